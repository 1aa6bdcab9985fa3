"""Camera-posed captures in and out: export -> import round trips for nerfstudio, COLMAP (text and binary) and
CO3D, invariance to a similarity transform of the whole capture, hand-made COLMAP and CO3D folders (conventions
checked by projecting points), relative rotation on an imported posed set (oracle and constant), bad input."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from conftest import run_cli
from vantage.data import DatasetError, export_dataset, import_dataset, load_card, load_records
from vantage.data.formats import derive_object_frame, rigid
from vantage.geometry import camera_pose

GL = np.diag([1.0, -1.0, -1.0, 1.0])


def _by_source(records):
    return {(r.object_id, Path(r.extra["source_file"]).name): r for r in records}


@pytest.fixture(scope="module")
def fib50(small_dataset):
    rows = [r for r in load_records(small_dataset) if r.view_set == "fib50"]
    return {(r.object_id, Path(r.file_name).name): r for r in rows}


@pytest.mark.parametrize("fmt,binary", [("nerfstudio", False), ("colmap", False), ("colmap", True), ("co3d", False)])
def test_export_then_import_gives_the_poses_back(small_dataset, fib50, tmp_path, fmt, binary):
    exp = export_dataset(small_dataset, tmp_path / "exp", fmt, view_set="fib50", binary=binary)
    assert exp.frames == len(fib50) and exp.objects == 11
    imp = import_dataset(exp.root, tmp_path / "imp", fmt=fmt, up="+z")
    recs = load_records(imp.root)
    assert len(recs) == len(fib50)
    for r in recs:
        src = fib50[(r.object_id, Path(r.extra["source_file"]).name)]
        got = np.asarray(r.cam_to_world)
        assert np.abs(got - rigid(src.cam_to_world, "")).max() < 1e-9  # the exact rigid pose the row stores
        assert np.abs(got - np.asarray(src.cam_to_world)).max() < 1e-6  # and the stored 6-decimal numbers
        assert abs((r.azimuth_deg - src.azimuth_deg + 180) % 360 - 180) < 1e-3  # rows store 4 decimals
        assert r.elevation_deg == pytest.approx(src.elevation_deg, abs=1e-3)
        assert r.distance == pytest.approx(src.distance, abs=1e-5)
        assert r.fov_deg == pytest.approx(src.fov_deg, abs=1e-9) and r.category == src.category
        a = np.asarray(Image.open(imp.root / r.file_name))
        b = np.asarray(Image.open(small_dataset / src.file_name).convert("RGB"))
        assert np.array_equal(a, b)
    assert load_card(imp.root)["imported"]["format"] == fmt


def test_relative_rotations_survive_a_similarity_transform(small_dataset, tmp_path):
    """Move, turn and scale a whole capture (a real world frame is arbitrary): relative rotations, relative
    azimuths and elevations (in the derived object frame) do not change; distances scale."""
    exp = export_dataset(small_dataset, tmp_path / "exp", "nerfstudio", view_set="fib50")
    moved = tmp_path / "moved"
    shutil.copytree(exp.root, moved)
    rot, scale, shift = Rotation.from_euler("zyx", [37, -64, 121], degrees=True).as_matrix(), 2.5, [4.0, -7.0, 1.5]
    for path in moved.glob("*/transforms.json"):
        data = json.loads(path.read_text())
        for f in data["frames"]:
            m = np.asarray(f["transform_matrix"])
            m[:3, :3], m[:3, 3] = rot @ m[:3, :3], scale * rot @ m[:3, 3] + shift
            f["transform_matrix"] = m.tolist()
        path.write_text(json.dumps(data))
    a = _by_source(load_records(import_dataset(exp.root, tmp_path / "a", fmt="nerfstudio").root))
    b = _by_source(load_records(import_dataset(moved, tmp_path / "b", fmt="nerfstudio").root))
    assert a.keys() == b.keys()
    for obj in {k[0] for k in a}:
        keys = sorted(k for k in a if k[0] == obj)
        ra = np.stack([np.asarray(a[k].cam_to_world)[:3, :3] for k in keys])
        rb = np.stack([np.asarray(b[k].cam_to_world)[:3, :3] for k in keys])
        rel_a, rel_b = ra[:, None].swapaxes(-1, -2) @ ra[None], rb[:, None].swapaxes(-1, -2) @ rb[None]
        assert np.abs(rel_a - rel_b).max() < 1e-9
        az_a, az_b = np.array([a[k].azimuth_deg for k in keys]), np.array([b[k].azimuth_deg for k in keys])
        d_az = (np.subtract.outer(az_a, az_a) - np.subtract.outer(az_b, az_b) + 180) % 360 - 180
        assert np.abs(d_az).max() < 1e-4
        assert np.allclose([a[k].elevation_deg for k in keys], [b[k].elevation_deg for k in keys], atol=1e-4)
        assert np.allclose([scale * a[k].distance for k in keys], [b[k].distance for k in keys], rtol=1e-6)


def test_object_frame_of_a_tilted_turntable():
    """A ring of cameras in a tilted plane: centre = the ring's centre, up = the plane normal (sign from the
    cameras' image-up), whatever the world frame."""
    poses = camera_pose(np.arange(0, 360, 30), 20.0, 3.0)
    rot, shift = Rotation.from_euler("xy", [30, -50], degrees=True).as_matrix(), np.array([1.0, 2.0, 3.0])
    moved = poses.copy()
    moved[:, :3, :3], moved[:, :3, 3] = rot @ poses[:, :3, :3], poses[:, :3, 3] @ rot.T + shift
    frame = derive_object_frame(moved)
    assert np.allclose(frame.centre, shift, atol=1e-9) and np.allclose(frame.up, rot @ [0, 0, 1], atol=1e-9)
    assert frame.up_from == "normal of the camera-centre plane"
    az, el, dist = frame.spherical(moved[:, :3, 3])
    assert np.allclose(el, 20.0) and np.allclose(dist, 3.0)
    assert np.allclose(np.diff(np.unwrap(np.deg2rad(az))), np.deg2rad(30))
    with pytest.raises(DatasetError, match="parallel"):
        derive_object_frame(np.stack([np.eye(4), np.eye(4)]))


def _ring(n: int = 8) -> np.ndarray:
    return camera_pose(np.arange(n) * 360.0 / n, 15.0, 2.0)


def _project_cv(c2w: np.ndarray, fx, fy, cx, cy, point) -> np.ndarray:
    p = np.linalg.inv(c2w) @ np.append(point, 1.0)
    return np.array([fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy])


def _write_images(folder: Path, names: list[str], w: int = 40, h: int = 30) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        Image.new("RGB", (w, h), (10 * i, 100, 200)).save(folder / n)


def test_hand_made_colmap_folder(tmp_path):
    """A COLMAP text model written here (world-to-camera quaternions from scipy, SIMPLE_RADIAL camera, a
    second-line of 2D points per image): poses, intrinsics and a projected point agree with the true cameras."""
    poses = _ring()
    obj = tmp_path / "capture" / "mug-1"
    names = [f"IMG_{i:04d}.png" for i in range(len(poses))]
    _write_images(obj / "images", names)
    (obj / "sparse" / "0").mkdir(parents=True)
    (obj / "sparse" / "0" / "cameras.txt").write_text("# Camera list\n1 SIMPLE_RADIAL 40 30 50.0 20.5 14.5 0.01\n")
    lines = ["# Image list with two lines of data per image:"]
    for i, (pose, name) in enumerate(zip(poses, names, strict=True)):
        r_wc = pose[:3, :3].T
        x, y, z, w = Rotation.from_matrix(r_wc).as_quat()
        t = -r_wc @ pose[:3, 3]
        lines += [f"{i + 7} {w} {x} {y} {z} {t[0]} {t[1]} {t[2]} 1 {name}", "12.5 3.0 -1 30.1 4.2 17"]
    (obj / "sparse" / "0" / "images.txt").write_text("\n".join(lines) + "\n")
    (obj / "category.txt").write_text("mug\n")
    res = import_dataset(tmp_path / "capture", tmp_path / "out", fmt="colmap")
    recs = sorted(load_records(res.root), key=lambda r: r.extra["source_file"])
    assert res.images == 8 and {r.category for r in recs} == {"mug"}
    point = np.array([0.1, -0.2, 0.05])
    for r, pose in zip(recs, poses, strict=True):
        assert np.abs(np.asarray(r.cam_to_world) - pose).max() < 1e-9
        k = r.extra["intrinsics"]
        assert (k["fx"], k["fy"], k["cx"], k["cy"]) == (50.0, 50.0, 20.5, 14.5)
        assert np.allclose(_project_cv(np.asarray(r.cam_to_world), 50, 50, 20.5, 14.5, point),
                           _project_cv(pose, 50, 50, 20.5, 14.5, point))  # fmt: skip
        assert r.elevation_deg == pytest.approx(15.0, abs=1e-6) and r.distance == pytest.approx(2.0)
    az = [r.azimuth_deg for r in recs]
    assert np.allclose(np.diff(az), 45.0)  # a level ring: up = the ring's normal, azimuth 0 on world +X


def test_hand_made_co3d_folder(tmp_path):
    """CO3D annotations written here in PyTorch3D's convention (X_view = X_world R + T, +X left, +Y up, NDC
    intrinsics): a world point projects to the same pixel through the imported OpenCV pose and intrinsics as
    through PyTorch3D's own formula."""
    poses = _ring(6)
    root = tmp_path / "co3d"
    cat = root / "teddybear"
    seq = "101_1234_5678"
    names = [f"frame{i:06d}.jpg" for i in range(6)]
    _write_images(cat / seq / "images", names, 40, 30)
    _write_images(cat / seq / "masks", [n.replace(".jpg", ".png") for n in names], 40, 30)
    frames = []
    f_ndc, p_ndc = [2.1, 2.3], [0.05, -0.1]
    for i, pose in enumerate(poses):
        r_cv = pose[:3, :3]
        r_p3d = (np.diag([-1.0, -1.0, 1.0]) @ r_cv.T).T  # world-to-view in PyTorch3D axes, row-vector form
        t_p3d = np.diag([-1.0, -1.0, 1.0]) @ (-r_cv.T @ pose[:3, 3])
        frames.append({"sequence_name": seq, "frame_number": i, "frame_timestamp": i / 30,
                       "image": {"path": f"teddybear/{seq}/images/{names[i]}", "size": [30, 40]},
                       "mask": {"path": f"teddybear/{seq}/masks/{names[i].replace('.jpg', '.png')}", "mass": 10},
                       "viewpoint": {"R": r_p3d.tolist(), "T": t_p3d.tolist(), "focal_length": f_ndc,
                                     "principal_point": p_ndc, "intrinsics_format": "ndc_isotropic"}})  # fmt: skip
    (cat / "frame_annotations.jgz").write_bytes(gzip.compress(json.dumps(frames).encode()))
    (cat / "sequence_annotations.jgz").write_bytes(
        gzip.compress(json.dumps([{"sequence_name": seq, "category": "teddybear"}]).encode()))
    res = import_dataset(root, tmp_path / "out", fmt="co3d", size=20)
    recs = sorted(load_records(res.root), key=lambda r: r.frame_index)
    assert res.images == 6 and {r.category for r in recs} == {"teddybear"} and {r.object_id for r in recs} == {seq}
    point = np.array([0.15, 0.1, -0.05])
    for r, pose, spec in zip(recs, poses, frames, strict=True):
        assert np.abs(np.asarray(r.cam_to_world) - pose).max() < 1e-9
        xv = point @ np.asarray(spec["viewpoint"]["R"]) + np.asarray(spec["viewpoint"]["T"])  # PyTorch3D view
        s = min(40, 30) / 2  # ndc_isotropic; +X left, +Y up on screen
        u, v = 40 / 2 - (f_ndc[0] * xv[0] / xv[2] + p_ndc[0]) * s, 30 / 2 - (f_ndc[1] * xv[1] / xv[2] + p_ndc[1]) * s
        k = r.extra["intrinsics"]  # of the 20 x 20 padded image: 40 x 30 scaled by 0.5 to 20 x 15, 2 px band above
        got = _project_cv(np.asarray(r.cam_to_world), k["fx"], k["fy"], k["cx"], k["cy"], point)
        assert np.allclose(got, [0.5 * u, 0.5 * v + 2.0], atol=1e-6)
        mask = np.asarray(Image.open(res.root / r.mask_file))
        assert mask.shape == (20, 20) and set(np.unique(mask)) <= {0, 255}
    assert [r.sequence_id for r in recs] == [seq] * 6


def _posed_folder(tmp_path: Path, matrix: list) -> Path:
    obj = tmp_path / "ns" / "cup"
    _write_images(obj / "images", ["a.png", "b.png"])
    good = (camera_pose(0.0, 10.0, 2.0) @ GL).tolist()
    frames = [{"file_path": "images/a.png", "transform_matrix": good},
              {"file_path": "images/b.png", "transform_matrix": matrix}]  # fmt: skip
    (obj / "transforms.json").write_text(json.dumps({"fl_x": 40, "fl_y": 40, "frames": frames}))
    return tmp_path / "ns"


def test_bad_posed_input_is_one_line_each(tmp_path):
    scaled = (2.0 * camera_pose(90.0, 10.0, 2.0)).tolist()
    res = run_cli("data", "import", str(_posed_folder(tmp_path / "a", scaled)), "--format", "nerfstudio",
                  "--out", str(tmp_path / "o1"))  # fmt: skip
    assert res.returncode == 1 and "transforms.json frame 1: the camera pose is not rigid" in res.stderr
    nan = camera_pose(90.0, 10.0, 2.0)
    nan[0, 3] = float("nan")
    res = run_cli("data", "import", str(_posed_folder(tmp_path / "b", nan.tolist())), "--format", "nerfstudio",
                  "--out", str(tmp_path / "o2"))  # fmt: skip
    assert res.returncode == 1 and "non-finite" in res.stderr
    # COLMAP: an image the model names that is not there; a zero quaternion; a NaN translation
    obj = tmp_path / "colmap" / "cup"
    _write_images(obj / "images", ["a.png"])
    (obj / "cameras.txt").write_text("1 PINHOLE 40 30 50 50 20 15\n")
    for body, message in [("1 1 0 0 0 0 0 2 1 a.png\n\n2 1 0 0 0 0 0 2 1 gone.png\n\n", "image gone.png is not in"),
                          ("1 0 0 0 0 0 0 2 1 a.png\n\n", "quaternion QW QX QY QZ has zero length"),
                          ("1 1 0 0 0 nan 0 2 1 a.png\n\n", "non-finite")]:  # fmt: skip
        (obj / "images.txt").write_text(body)
        res = run_cli("data", "import", str(tmp_path / "colmap"), "--format", "colmap", "--out", str(tmp_path / "o3"))
        assert res.returncode == 1 and message in res.stderr, res.stderr
    # nerfstudio: intrinsics for a different image size than the file has
    sized = _posed_folder(tmp_path / "s", (camera_pose(90.0, 10.0, 2.0) @ GL).tolist())
    spec = json.loads((sized / "cup" / "transforms.json").read_text())
    (sized / "cup" / "transforms.json").write_text(json.dumps({**spec, "w": 64, "h": 48}))
    res = run_cli("data", "import", str(sized), "--format", "nerfstudio", "--out", str(tmp_path / "o6"))
    assert res.returncode == 1 and "is 40x30, but the capture gives its camera for a 64x48 image" in res.stderr
    # CO3D: a path that leaves the folder
    cat = tmp_path / "co3d" / "apple"
    cat.mkdir(parents=True)
    (tmp_path / "co3d" / "secret.png").write_bytes(b"x")
    frames = [{"sequence_name": "s", "image": {"path": "../secret.png", "size": [30, 40]},
               "viewpoint": {"R": np.eye(3).tolist(), "T": [0, 0, 2]}}]  # fmt: skip
    (cat / "frame_annotations.jgz").write_bytes(gzip.compress(json.dumps(frames).encode()))
    res = run_cli("data", "import", str(cat), "--format", "co3d", "--out", str(tmp_path / "o4"))
    assert res.returncode == 1 and "must be a relative path inside" in res.stderr
    for res in (run_cli("data", "import", str(cat), "--format", "colmap", "--table", "x.csv", "--out", "o5"),
                run_cli("data", "import", str(cat), "--format", "ply", "--out", "o5"),
                run_cli("data", "import", str(cat), "--format", "co3d", "--up", "up", "--out", "o5")):  # fmt: skip
        assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not list(tmp_path.glob("o*"))


def test_export_refuses_unposed_rows_and_foreign_folders(tmp_path, turntable, small_dataset):
    table = import_dataset(turntable, tmp_path / "tt", convention="index")
    with pytest.raises(DatasetError, match="has no camera pose"):
        export_dataset(table.root, tmp_path / "e", "nerfstudio")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="holds no vantage export"):
        export_dataset(small_dataset, tmp_path / "busy", "colmap", view_set="fib50", overwrite=True)
    with pytest.raises(DatasetError, match="no rows of view set"):
        export_dataset(small_dataset, tmp_path / "e", "colmap", view_set="fib7")
    res = run_cli("data", "cameras", str(small_dataset), "--view-set", "fib50", "--out", str(tmp_path / "c.png"))
    assert res.returncode == 0 and Image.open(tmp_path / "c.png").size[0] > 100


def test_relative_rotation_on_an_imported_posed_set_oracle_and_constant(small_dataset, tmp_path):
    """Where every imported row has a camera pose, the real-set scores include relative rotation (the 50-bin
    probe of rendered data): features that leak the camera rotation score near 100, constant ones the majority
    bin at most; relative azimuth is scored beside it."""
    from vantage.eval.pose_ssl import PoseEvalConfig, _evaluate_tap, load_pose_eval_data

    exp = export_dataset(small_dataset, tmp_path / "exp", "colmap", view_set="fib50")
    real = import_dataset(exp.root, tmp_path / "real", fmt="colmap").root
    cfg = PoseEvalConfig(image_size=32, pair_steps=600, pair_hidden=256, pairs_per_object=60)
    data = load_pose_eval_data(small_dataset, cfg, real={"posed": real})
    assert data.banks["real:posed"].posed and data.banks["train"].posed
    g = torch.Generator().manual_seed(0)
    leak = {n: 5 * b.rotation.flatten(1) + 0.01 * torch.randn(len(b), 9, generator=g) for n, b in data.banks.items()}
    good, _ = _evaluate_tap(leak, data, cfg, "leak")
    assert good["posed"]["relative_rotation"]["bin_top1"] > 90, good["posed"]
    assert "bin_top1" in good["posed"]["relative_azimuth"]
    const = {n: torch.ones(len(b), 9) for n, b in data.banks.items()}
    bad, _ = _evaluate_tap(const, data, cfg, "const")
    assert bad["posed"]["relative_rotation"]["bin_top1"] < 10  # 50 bins; leak: 93 %, constant: 3 % when written


def test_a_killed_import_leaves_a_folder_the_next_import_removes(turntable, tmp_path):
    """SIGKILL mid-import leaves its temporary folder; the next import into the same --out removes it, says so in
    one line, and publishes a complete dataset."""
    src = tmp_path / "big"
    src.mkdir()
    img = Image.open(next(turntable.glob("*.png"))).resize((256, 256))
    for i in range(400):
        img.save(src / f"obj{i % 4}__{i // 4}.png")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vantage", "data", "import", str(src), "--out", str(out),
                             "--convention", "index"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ})  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".out.importing-*/images/*/*.png")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = list(tmp_path.glob(".out.importing-*"))
    assert left and not out.exists()
    res = run_cli("data", "import", str(src), "--out", str(out), "--convention", "index")
    assert res.returncode == 0 and f"removed {left[0]}" in res.stderr
    assert not list(tmp_path.glob(".out.importing-*")) and len(load_records(out)) == 400

