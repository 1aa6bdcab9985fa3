"""The multi-view video generator: scripted tasks, synchronised cameras, the data contract and build guarantees."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
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


def test_alignment_benchmark_oracles(video_build):
    """An encoder that leaks the frame index aligns perfectly; a constant one gets the documented values."""
    from PIL import Image

    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor
    from vantage.eval.align import evaluate_alignment

    tf = to_tensor(24, IMAGENET_MEAN, IMAGENET_STD)
    rows = [r for r in load_records(video_build) if r.split == "test"]
    bank = torch.stack([tf(Image.open(video_build / r.file_name).convert("RGB")) for r in rows]).flatten(1)
    index = torch.tensor([r.frame_index for r in rows])

    def leak(x):
        k = torch.cdist(x.flatten(1), bank).argmin(1)
        return torch.nn.functional.one_hot(index[k], 64).float()

    good = evaluate_alignment(leak, video_build, 24)
    assert set(good["groups"]) == {"fpv_tpv/seen", "fpv_tpv/unseen", "tpv_tpv/seen", "tpv_tpv/unseen"}
    # near perfect: at 24 px the grasp / release holds and the eased ends of each motion give pixel-identical
    # frames, which any image encoder must map to one embedding (ties: the reference tau counts them against)
    for g in good["groups"].values():
        assert g["align_err"] < 0.03 and g["cycle_err"] < 0.03 and g["tau_b"] > 0.9 and g["tau"] > 0.85
    bad = evaluate_alignment(lambda x: torch.ones(len(x), 8), video_build, 24)
    for g in bad["groups"].values():
        assert g["tau"] == -1 and "tau_b" not in g  # collapsed: ties discordant; tau-b undefined (NaN, dropped)
    assert good["trajectories"] == 2 and set(good["tasks_fpv_tpv"]) == {"pick_place", "pour"}
    assert good["retrieval"]["query"] == "fpv" and good["retrieval"]["target"] == "tpv2"  # the unseen camera
    assert bad["phases"]["mean"]["progress_r2"] <= 0.01  # a constant encoder explains no progress


def test_phase_probes_score_a_phase_leak_and_a_constant(video_build):
    """TCC's probes: embeddings that carry the phase and the progress score ~100 % / R^2 ~1; constant ones score
    at most the share of the most frequent phase and R^2 <= 0."""
    from vantage.data.clips import index_sequences
    from vantage.eval.align import _Embedded, phase_progress, phase_scores

    assert np.allclose(phase_progress(["a", "a", "b", "b", "b", "a"]), [0, 0.5, 0, 1 / 3, 2 / 3, 0])
    rows = load_records(video_build)
    names = sorted({r.phase for r in rows})

    def embedded(split: str, leak: bool) -> list:
        out = []
        for seq in index_sequences([r for r in rows if r.split == split]):
            phases = [r.phase for r in seq.frames["fpv"]]
            code = torch.tensor([[*(float(p == n) for n in names), q] for p, q in zip(phases, phase_progress(phases),
                                                                                       strict=True)])  # fmt: skip
            z = code if leak else torch.zeros_like(code)
            out.append(_Embedded(seq, z.expand(len(seq.cameras), *z.shape), {}, phases))
        return out

    good = phase_scores(embedded("train", True), embedded("test", True))
    assert set(good) == {"pick_place", "pour", "mean"}
    assert good["mean"]["phase_acc"] > 99 and good["mean"]["progress_r2"] > 0.99
    bad = phase_scores(embedded("train", False), embedded("test", False))
    assert bad["mean"]["progress_r2"] <= 0.01 and bad["mean"]["phase_acc"] < 50


@pytest.mark.parametrize(("objective", "trl3d"), [("infonce", "improved"), ("tcn", "faithful")])
def test_train_align_and_evaluate_with_the_camera_diagnostic(video_build, tmp_path, objective, trl3d):
    from vantage.eval.align import evaluate_alignment
    from vantage.models import find_3dtrl
    from vantage.train.align import AlignTrainConfig, load_align_encoder, train_align

    cfg = AlignTrainConfig(model_kwargs={"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2},
                           image_size=24, trl3d=trl3d, objective=objective, epochs=1, clip_frames=6,
                           clip_stride=1, window=2, batch_size=2, accelerator="cpu", cycle_weight=0.5)  # fmt: skip
    ckpt = train_align(cfg, video_build, tmp_path / "run", progress=False)
    module, loaded = load_align_encoder(ckpt)
    assert loaded == cfg
    res = evaluate_alignment(module.embed, video_build, 24, trl=find_3dtrl(module.encoder))
    for g in res["groups"].values():
        assert 0 <= g["align_err"] <= 1 and -1 <= g["tau"] <= 1 and g["pairs"] > 0
    cam = res["camera_head"]
    assert set(cam) >= {"rotation_corr", "translation_corr", "rotation_spread_deg"} and cam["rotation_spread_deg"] >= 0


def test_video_align_suite_and_cli(video_build, tmp_path, vantage_main):
    """The plug-in through the grid and the report, on the fixture's video data; then the CLI commands."""
    from vantage.bench import METHODS, BenchContext, render_report

    config = {"align": {
        "train": {"model_kwargs": {"patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 1}, "image_size": 24,
                  "epochs": 1, "clip_frames": 4, "clip_stride": 1, "batch_size": 2, "accelerator": "cpu"},
        "bench": {"variants": ["none", "improved", "resnet"], "fractions": [1.0, 0.5],
                  "fraction_variants": ["none", "improved"],
                  "resnet": {"model": "resnet18", "model_kwargs": {"channels": [8, 8, 16, 16]}}}}}  # fmt: skip
    plugin = METHODS["video_align"]
    plugin_dataset = plugin.dataset
    plugin.dataset = lambda ctx, s: video_build  # the fixture's data instead of the preset's build
    try:
        res = plugin.run(BenchContext("t", config, tmp_path))
    finally:
        plugin.dataset = plugin_dataset
    assert res["order"] == ["none-f1", "improved-f1", "resnet-f1", "none-f0.5", "improved-f0.5"]
    assert [res["labels"][k] for k in res["order"]] == ["DeiT (100%)", "+3DTRL improved (100%)", "ResNet (100%)",
                                                        "DeiT (50%)", "+3DTRL improved (50%)"]  # fmt: skip
    assert set(res["deltas"]) == {"improved-f1", "resnet-f1", "improved-f0.5"}
    assert "camera_head" in res["table"]["improved-f0.5"] and (tmp_path / res["plots"]["efficiency"]).is_file()
    assert "camera_head" not in res["table"]["resnet-f1"] and "phases" in res["table"]["resnet-f1"]
    assert (tmp_path / res["plots"]["retrieval"]).is_file()
    resnet_cfg = torch.load(tmp_path / "video_align" / "resnet-f1-seed0" / "checkpoints" / "last.ckpt",
                            weights_only=False)["hyper_parameters"]["cfg"]  # fmt: skip
    assert resnet_cfg["model"] == "resnet18" and resnet_cfg["model_kwargs"] == {"channels": [8, 8, 16, 16]}
    (tmp_path / "results.json").write_text(__import__("json").dumps({"preset": "t", "suites": {"video_align": res}}))
    page, md = render_report(tmp_path)
    assert "Multi-view video alignment" in page.read_text() and "| +3DTRL improved (50%) |" in md
    run = tmp_path / "cli"
    code, out, err = vantage_main("train", "align", "--data", str(video_build), "--out", str(run), "--preset", "quick",
                                  "--3dtrl", "faithful", "--objective", "tcn", "-q", "--set", "image_size=24",
                                  "--set", "clip_frames=6")  # fmt: skip
    assert code == 0, err
    code, out, err = vantage_main("eval", "align", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--data",
                                  str(video_build), "--out", str(tmp_path / "a.json"), "--figure",
                                  str(tmp_path / "r.png"))  # fmt: skip
    assert code == 0 and "fpv_tpv/unseen" in out and "camera_head" in out and "phases" in out, err
    saved = __import__("json").loads((tmp_path / "a.json").read_text())
    assert (tmp_path / "r.png").is_file() and len(saved["retrieval"]["nn"]) > 0
