"""The multi-view video generator: scripted tasks, synchronised cameras, the data contract and build guarantees."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vantage.data import ClipDataset, load_records, verify_dataset
from vantage.data.video import VideoConfig, build_video_dataset, camera_ids, plan_trajectories
from vantage.data.video_tasks import TASKS, fpv_camera, script_task, tpv_cameras
from vantage.render import Camera
from vantage.render.scene import Body, PyBulletScene


def _tiny() -> VideoConfig:
    return VideoConfig(name="vtest", tasks=["pick_place", "pour"], trajectories_per_task=3, image_size=24,
                       tpv_cameras=3, seen_tpv=2, frame_stride=4)  # fmt: skip


@pytest.fixture(scope="module")
def video_build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video") / "v"
    res = build_video_dataset(_tiny(), root, workers=1, progress=False)
    assert res.complete and res.rendered > 0
    return root


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "build.lock"}  # fmt: skip


def test_every_task_is_a_sequence_of_phases_with_varying_pace():
    for task in TASKS:
        lengths, phase_lists = set(), []
        for seed in range(4):
            traj = script_task(task, np.random.default_rng(seed))
            lengths.add(len(traj.frames))
            phase_lists.append(list(dict.fromkeys(traj.phases)))
            for f in traj.frames:
                assert all(np.isfinite(p).all() and np.isfinite(r).all() for p, r in f.poses.values())
                assert {"upper", "fore", "gripper", "table"} <= set(f.poses)
        assert len(lengths) > 1  # executions differ in length and pace
        assert all(p == phase_lists[0] for p in phase_lists) and len(phase_lists[0]) >= 3


def test_camera_poses_agree_with_the_renderer():
    """A marker at a known point projects where each camera's cam_to_world says (within a pixel)."""
    scene = PyBulletScene()
    traj = script_task("pour", np.random.default_rng(0))
    frame = traj.frames[len(traj.frames) // 2]
    marker = frame.gripper + np.array([0.12, 0.0, -0.05])  # ahead of the gripper, in the wrist camera's view
    scene.add(Body("marker", "sphere", (0.015,), (1.0, 0.0, 0.0)))
    scene.set_pose("marker", marker)
    cams = [(fpv_camera(frame), 70.0)] + [(c2w, 45.0) for _, _, c2w in tpv_cameras(5)]
    for c2w, fov in cams:
        cam = Camera(c2w, 96, 96, fov)
        out = scene.render(cam)
        rows, cols = np.nonzero(out.mask)
        assert len(rows) > 3
        (u, v), depth = cam.project(marker)[0][0], cam.project(marker)[1][0]
        assert abs(cols.mean() + 0.5 - u) < 1.0 and abs(rows.mean() + 0.5 - v) < 1.0
        assert abs(out.depth[out.mask].min() - (depth - 0.015)) < 0.01  # z-depth of the sphere's near side
    scene.close()


def test_video_build_is_a_verifiable_synchronised_dataset(video_build, tmp_path):
    cfg = _tiny()
    assert not verify_dataset(video_build)
    rows = load_records(video_build)
    trajs = plan_trajectories(cfg)
    assert {r.sequence_id for r in rows} == {t.object_id for t in trajs}
    assert {r.split for r in rows} == {"train", "val", "test"}
    assert {r.camera_id for r in rows} == set(camera_ids(cfg)) == {"fpv", "tpv0", "tpv1", "tpv2"}
    groups = {r.camera_id: r.extra["camera_group"] for r in rows}
    assert groups == {"fpv": "fpv", "tpv0": "seen", "tpv1": "seen", "tpv2": "unseen"}
    static = [c2w for _, _, c2w in tpv_cameras(3, tuple(cfg.tpv_elevation), cfg.tpv_distance)]
    for r in rows:
        if r.camera_id != "fpv":
            np.testing.assert_allclose(r.cam_to_world, static[int(r.camera_id[3:])], atol=1e-6)
    ds = ClipDataset(video_build, split="train", frames=4, stride=2)
    item = ds[0]
    assert item["frames"].shape == (4, 4, 3, 24, 24) and item["cameras"] == ["fpv", "tpv0", "tpv1", "tpv2"]
    assert all(item["phase"]) and ds.classes == ["pick_place", "pour"]
    fpv = item["cam_to_world"][0]
    assert not np.allclose(fpv[0], fpv[-1])  # the first-person camera moves with the arm


def test_video_build_resumes_to_identical_files(video_build, tmp_path):
    root = tmp_path / "v"
    shutil.copytree(video_build, root)
    want = _tree(video_build)
    (root / ".parts" / "pour-001.json").unlink()  # as if killed before this trajectory finished
    next((root / "images" / "pour-001").glob("*.png")).write_bytes(b"")
    (root / "metadata.jsonl").unlink()
    res = build_video_dataset(_tiny(), root, workers=1, progress=False)
    assert res.complete and res.rendered > 0 and res.skipped == 5
    assert _tree(root) == want


def test_video_preview_gif(video_build, tmp_path):
    from vantage.data.preview import video_preview

    path = video_preview(video_build, tmp_path / "t.gif", "pour-000")
    with Image.open(path) as im:
        assert im.n_frames > 3 and im.size[0] == 4 * 24  # four cameras side by side


def test_bad_video_config_is_refused():
    with pytest.raises(ValueError, match="video tasks"):
        VideoConfig(tasks=["juggle"])
    with pytest.raises(ValueError, match="seen_tpv"):
        VideoConfig(tpv_cameras=2, seen_tpv=3)


def test_cli_builds_verifies_and_previews_video(tmp_path, vantage_main):
    out = tmp_path / "v"
    code, stdout, err = vantage_main("data", "build", "--preset", "quick", "--video", "--out", str(out), "-q",
                                     "--set", "tasks=[push]", "--set", "image_size=16", "--workers", "1")  # fmt: skip
    assert code == 0 and "complete" in stdout and "finished trajectories" in stdout, err
    code, stdout, _ = vantage_main("data", "verify", str(out))
    assert code == 0 and "OK" in stdout
    code, stdout, _ = vantage_main("data", "preview-video", str(out), "--out", str(tmp_path / "p.gif"))
    assert code == 0 and (tmp_path / "p.gif").is_file()
    code, _, err = vantage_main("data", "build", "--preset", "quick", "--video", "--out", str(out),
                                "--set", "tasks=[juggle]")  # fmt: skip
    assert code == 1 and "video tasks ['juggle'] invalid" in err
