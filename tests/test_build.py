"""Dataset build: contract, determinism, kill-and-resume, shards, bad input, verify."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import small_config
from vantage.config import ConfigError, from_dict, to_dict
from vantage.data import (
    BuildConfig,
    BuildError,
    DatasetError,
    build_dataset,
    load_card,
    load_records,
    plan_objects,
    verify_dataset,
)
from vantage.geometry import angle_between, camera_pose, spherical_to_cartesian
from vantage.shapes import UnknownCategoryError


def test_built_dataset_honours_the_contract(small_dataset):
    card = load_card(small_dataset)
    rows = load_records(small_dataset)
    assert card["counts"]["images"] == len(rows)
    assert card["categories"] == {"in": ["airplane", "car", "chair"], "out": ["guitar", "mug"]}
    assert verify_dataset(small_dataset) == []
    per_group = {"train": 50 + 9 + 3, "val": 50 + 3, "test": 50 + 100 + 3}
    for obj in {r.object_id for r in rows}:
        mine = [r for r in rows if r.object_id == obj]
        group = mine[0].split if mine[0].domain == "in" else "test"
        assert len(mine) == per_group[group]
        assert len({r.file_name for r in mine}) == len(mine)
    # Splits are by object: no object in two splits.
    splits = {}
    for r in rows:
        assert splits.setdefault(r.object_id, r.split) == r.split
    for r in rows[:: max(1, len(rows) // 40)]:
        c2w = np.asarray(r.cam_to_world)
        np.testing.assert_allclose(c2w, camera_pose(r.azimuth_deg, r.elevation_deg, r.distance), atol=1e-5)
        img = Image.open(small_dataset / r.file_name)
        assert img.size == (32, 32) and img.mode == "RGB"
        assert r.category.split("_")[0] in r.caption and r.category in r.view_caption
        assert ("seen from" in r.view_caption) and ("seen from" not in r.caption)
    test_rows = [r for r in rows if r.split == "test"]
    assert all(r.depth_file and (r.mask_file is not None) == (r.domain == "in") for r in test_rows)
    assert not any(r.depth_file for r in rows if r.split == "train")
    depth = np.load(small_dataset / test_rows[0].depth_file)
    mask = np.asarray(Image.open(small_dataset / test_rows[0].mask_file)) > 127
    assert depth.dtype == np.float16 and depth.shape == (32, 32)
    np.testing.assert_array_equal(mask, depth > 0)


def test_view_sets_have_the_promised_geometry(small_dataset):
    rows = load_records(small_dataset)
    trip = sorted((r for r in rows if r.view_set == "triplet"), key=lambda r: (r.object_id, r.view_id))
    for k in range(0, len(trip), 3):
        left, centre, right = trip[k : k + 3]
        assert (left.triplet_pos, centre.triplet_pos, right.triplet_pos) == ("L", "C", "R")
        d = [spherical_to_cartesian(r.azimuth_deg, r.elevation_deg) for r in (left, centre, right)]
        assert np.isclose(angle_between(d[0], d[1]), 10.0, atol=1e-2)
        assert np.isclose(angle_between(d[1], d[2]), 10.0, atol=1e-2)
    canon = [r for r in rows if r.view_set == "canonical"]
    assert all(((r.azimuth_deg + 180) % 360 - 180) <= 35 + 1e-6 and 5 <= r.elevation_deg <= 25 for r in canon)
    fib = {(r.view_id, r.azimuth_deg, r.elevation_deg) for r in rows if r.view_set == "fib50"}
    assert len(fib) == 50  # the same 50 poses for every object


def test_same_config_same_bytes(small_dataset, tmp_path):
    again = build_dataset(small_config(), tmp_path / "again", workers=1, progress=False)
    assert again.manifest_hash == load_card(small_dataset)["manifest_hash"]
    # A second call reuses everything.
    reuse = build_dataset(small_config(), tmp_path / "again", workers=1, progress=False)
    assert reuse.rendered == 0 and reuse.skipped == len(plan_objects(small_config()))
    assert reuse.manifest_hash == again.manifest_hash


def test_killed_build_resumes_to_the_same_manifest(small_dataset, tmp_path):
    cfg_file = tmp_path / "small.yaml"
    cfg_file.write_text(yaml.safe_dump({"data": to_dict(small_config())}))
    out = tmp_path / "killed"
    code = (
        "import sys; from vantage.data import build_dataset, load_build_config;"
        f"build_dataset(load_build_config({str(cfg_file)!r}), {str(out)!r}, workers=1, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".parts").glob("*-*.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list((out / ".parts").glob("*-*.json")))
    total = len(plan_objects(small_config()))
    assert 3 <= n_done < total, "the build was not interrupted midway"
    assert not (out / "metadata.jsonl").exists() and not (out / "dataset.json").exists()
    assert verify_dataset(out)[0].path == "dataset.json"  # unfinished builds are reported as such
    resumed = build_dataset(small_config(), out, workers=2, progress=False)
    assert resumed.complete and resumed.skipped >= 3 and resumed.skipped + resumed.rendered / 1 > 0
    assert resumed.manifest_hash == load_card(small_dataset)["manifest_hash"]
    assert verify_dataset(out) == []
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_shards_share_the_work(small_dataset, tmp_path):
    out = tmp_path / "sharded"
    first = build_dataset(small_config(), out, workers=1, shard=(0, 2), progress=False)
    assert not first.complete and first.manifest_hash is None and not (out / "dataset.json").exists()
    second = build_dataset(small_config(), out, workers=1, shard=(1, 2), progress=False)
    assert second.complete and second.manifest_hash == load_card(small_dataset)["manifest_hash"]
    with pytest.raises(ValueError, match=r"shard"):
        build_dataset(small_config(), out, shard=(2, 2), progress=False)


@pytest.mark.parametrize(
    ("data", "match", "error"),
    [
        ({"image_size": 0}, "image_size must be an integer in 1..4096 pixels", ConfigError),
        ({"in_domain": ["airplane", "spaceship"]}, "unknown category 'spaceship'", (ConfigError, UnknownCategoryError)),
        ({"assign": {"train": ["fib7"]}}, "undefined view set", ConfigError),
        ({"view_sets": {"fib50": {"kind": "spiral", "n": 5}}}, "kind must be one of", ConfigError),
        ({"split": {"train": 0.9, "val": 0.2, "test": 0.1}}, "sum to 1", ConfigError),
        ({"imagesize": 32}, "unknown field.*'imagesize'", ConfigError),
        ({"camera": {"distance": "far"}}, r"camera\.distance: expected a number", ConfigError),
    ],
)
def test_bad_config_values_are_named(data, match, error):
    with pytest.raises(error, match=match):
        from_dict(BuildConfig, data, "data")


def test_bad_output_paths(tmp_path):
    afile = tmp_path / "a_file"
    afile.write_text("hello")
    with pytest.raises(DatasetError, match=r"a_file is a file"):
        build_dataset(small_config(), afile, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"not empty and holds no vantage build"):
        build_dataset(small_config(), foreign, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"  # nothing lost


def test_config_change_needs_overwrite(small_dataset, tmp_path):
    out = tmp_path / "d"
    shutil.copytree(small_dataset, out)
    changed = small_config(objects_per_ood_category=0, out_of_domain=[])
    with pytest.raises(DatasetError, match=r"different config.*--overwrite"):
        build_dataset(changed, out, progress=False)
    res = build_dataset(changed, out, workers=2, overwrite=True, progress=False)
    assert res.complete and load_card(out)["categories"]["out"] == []


def test_verify_names_corrupt_missing_and_stray_files(small_dataset, tmp_path):
    out = tmp_path / "d"
    shutil.copytree(small_dataset, out)
    rows = load_records(out)
    victim = out / rows[5].file_name
    victim.write_bytes(victim.read_bytes()[:40])  # truncated PNG
    (out / rows[9].file_name).unlink()
    (out / "images" / rows[0].object_id / "stray.png").write_bytes(b"x")
    problems: dict[str, str] = {}
    for p in verify_dataset(out):
        problems[p.path] = problems.get(p.path, "") + p.message + "; "
    assert "corrupt" in problems[rows[5].file_name] and "checksum" in problems[rows[5].file_name]
    assert problems[rows[9].file_name] == "missing; "
    assert "not listed" in problems[f"images/{rows[0].object_id}/stray.png"]
    lines = (out / "metadata.jsonl").read_text().splitlines()
    lines[2] = json.dumps({k: v for k, v in json.loads(lines[2]).items() if k != "split"})
    (out / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    assert any("line 3" in p.message and "split" in p.message for p in verify_dataset(out))


def test_mesh_folder_build_and_bad_mesh(tmp_path):
    import trimesh

    for cat, ext in (("crate", "ply"), ("tube", "obj")):
        for i in range(2):
            m = (
                trimesh.creation.box(extents=(1, 1 + i, 0.5))
                if cat == "crate"
                else trimesh.creation.cylinder(0.3, 1 + i)
            )
            (tmp_path / "meshes" / cat).mkdir(parents=True, exist_ok=True)
            m.export(tmp_path / "meshes" / cat / f"m{i}.{ext}")
    changes = {
        "in_domain": [],
        "out_of_domain": ["tube"],
        "objects_per_category": 2,
        "objects_per_ood_category": 2,
        "split": {"train": 0.5, "val": 0.0, "test": 0.5},
        "meshes": {"root": str(tmp_path / "meshes")},
    }
    cfg = from_dict(BuildConfig, {**to_dict(small_config()), **changes}, "data")
    res = build_dataset(cfg, tmp_path / "out", workers=1, progress=False)
    assert res.complete and verify_dataset(tmp_path / "out") == []
    assert load_card(tmp_path / "out")["categories"] == {"in": ["crate"], "out": ["tube"]}
    (tmp_path / "meshes" / "crate" / "m1.ply").write_bytes(b"ply\nformat garbage\n")
    with pytest.raises(BuildError, match=r"crate-m1 .*m1\.ply"):
        build_dataset(cfg, tmp_path / "out2", workers=1, progress=False)


def test_png_encoder_roundtrips_exactly():
    import io

    from vantage.io import encode_png

    rng = np.random.default_rng(0)
    for shape in [(7, 5, 3), (32, 32), (1, 1, 3), (64, 48, 3)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        img = Image.open(io.BytesIO(encode_png(a)))
        assert img.mode == ("RGB" if len(shape) == 3 else "L")
        np.testing.assert_array_equal(np.asarray(img), a)
        assert encode_png(a) == encode_png(a.copy())
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 4), np.uint8))


def test_a_build_that_fails_first_leaves_nothing(tmp_path, monkeypatch):
    """A new folder whose build dies before any object is finished is removed, so a corrected config can use it."""
    import vantage.data.build as build

    def boom(task):
        raise BuildError("renderer exploded")

    monkeypatch.setattr(build, "_render_object", boom)
    with pytest.raises(BuildError, match="exploded"):
        build_dataset(small_config(), tmp_path / "d", workers=1, progress=False)
    assert not (tmp_path / "d").exists()
