"""`vantage data import`: your own multi-view images into the data contract (naming conventions with explicit
azimuth rules, CSV / JSONL tables with bounding boxes), checked row by row, and scored with `eval pose-ssl --real`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TURNTABLE_OBJECTS, TURNTABLE_POSES, run_cli
from vantage.data import DatasetError, hf_data_files, import_dataset, load_real_records, load_records, verify_dataset

STEP = 360 // TURNTABLE_POSES


@pytest.fixture(scope="module")
def degree_named(turntable, tmp_path_factory) -> Path:
    """The rendered turntable renamed COIL-100 style: obj<k>__<azimuth in degrees>.png."""
    root = tmp_path_factory.mktemp("degrees")
    for p in turntable.glob("obj*__*.png"):
        obj, pose = p.stem.split("__")
        shutil.copy(p, root / f"{obj}__{int(pose) * STEP}.png")
    return root


@pytest.fixture(scope="module")
def photo_sequence(turntable, tmp_path_factory) -> tuple[Path, Path]:
    """Each rendered view pasted at its own offset into a larger 'photo', with a CSV giving the box, azimuth,
    elevation, category and a sequence / frame index per object."""
    root = tmp_path_factory.mktemp("photos")
    lines = ["file,object_id,category,azimuth_deg,elevation_deg,sequence_id,frame_index,bbox_x,bbox_y,bbox_w,bbox_h"]
    for k in range(1, TURNTABLE_OBJECTS + 1):
        for pose in range(TURNTABLE_POSES):
            view = Image.open(turntable / f"obj{k}__{pose}.png")
            x, y = 3 + (5 * pose) % 20, 2 + (7 * k) % 15
            canvas = Image.new("RGB", (64, 52), (40, 90, 200))
            canvas.paste(view, (x, y))
            (root / f"seq{k}").mkdir(exist_ok=True)
            canvas.save(root / f"seq{k}" / f"frame_{pose:03d}.jpg", quality=95)
            canvas.save(root / f"seq{k}" / f"frame_{pose:03d}.png")
            cat = "mug" if k % 2 else "vase"
            az = pose * STEP + 0.5
            lines.append(f"seq{k}/frame_{pose:03d}.png,item{k},{cat},{az},10,seq{k},{pose},{x},{y},32,32")
    (root / "views.csv").write_text("\n".join(lines) + "\n")
    return root, root / "views.csv"


def test_degree_named_turntable_gets_exact_azimuths(degree_named, tmp_path):
    res = import_dataset(degree_named, tmp_path / "t", convention="coil100")
    assert res.images == TURNTABLE_OBJECTS * TURNTABLE_POSES and res.objects == TURNTABLE_OBJECTS
    assert not verify_dataset(res.root)
    rows = load_records(res.root)
    for r in rows:
        assert r.azimuth_deg == float(Path(r.extra["source_file"]).stem.split("__")[1])  # degrees, not index x 360/N
    assert {r.domain for r in rows} == {"real"} and {r.split for r in rows} == {"test"}
    # the index convention on the same files would mean something else; coil20 refuses numbers past 71
    with pytest.raises(DatasetError, match=r"COIL-20 pose indices are 0\.\.71"):
        import_dataset(degree_named, tmp_path / "c20", convention="coil20")
    assert not (tmp_path / "c20").exists()  # a failed import leaves nothing behind
    idx = import_dataset(degree_named, tmp_path / "i", convention="degrees")
    assert sorted(r.azimuth_deg for r in load_records(idx.root) if r.object_id == "obj1") == [
        float(STEP * p) for p in range(TURNTABLE_POSES)]  # fmt: skip


def test_csv_with_boxes_crops_exactly_and_keeps_every_field(photo_sequence, turntable, tmp_path):
    source, table = photo_sequence
    res = import_dataset(source, tmp_path / "p", table=table, name="photos")
    assert not verify_dataset(res.root)
    rows = load_records(res.root)
    assert len(rows) == TURNTABLE_OBJECTS * TURNTABLE_POSES
    r = next(r for r in rows if r.object_id == "item3" and r.frame_index == 5)
    assert r.azimuth_deg == 5 * STEP + 0.5 and r.elevation_deg == 10.0 and r.category == "mug"
    assert r.sequence_id == "seq3" and r.extra["source_file"] == "seq3/frame_005.png"
    crop = np.asarray(Image.open(res.root / r.file_name))
    assert crop.shape == (32, 32, 3) and np.array_equal(crop, np.asarray(Image.open(turntable / "obj3__5.png")))
    card = json.loads((res.root / "dataset.json").read_text())
    assert card["name"] == "photos" and card["categories"]["in"] == ["mug", "vase"]
    assert [r.file_name for r in load_real_records(res.root)] == [r.file_name for r in rows]
    import datasets

    hf = datasets.load_dataset("imagefolder", data_files=hf_data_files(res.root), split="train")
    assert len(hf) == len(rows) and set(hf[0]) >= {"image", "azimuth_deg", "object_id"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("seq1/frame_000.png,item1,abc,,,,", "azimuth_deg='abc' is not a number"),
        ("seq1/frame_000.png,item1,10,95,,,", "elevation_deg='95' is out of range"),
        ("seq1/missing.png,item1,10,,,,", "does not exist"),
        ("../outside.png,item1,10,,,,", "outside"),
        ("seq1/frame_000.png,item1,10,,40,30,32", "needs all of bbox_x"),
        ("seq1/frame_000.png,,10,,,,", "missing column(s) object_id"),
    ],
)
def test_bad_rows_name_the_table_and_line(photo_sequence, tmp_path, row, message):
    source, _ = photo_sequence
    table = tmp_path / "bad.csv"
    good = "seq1/frame_001.png,item1,30,,,,"
    table.write_text(f"file,object_id,azimuth_deg,elevation_deg,bbox_x,bbox_y,bbox_w\n{good}\n{row}\n")
    with pytest.raises(DatasetError) as err:
        import_dataset(source, tmp_path / "out", table=table)
    assert f"{table}:3" in str(err.value) and message in str(err.value)


def test_box_outside_the_image_and_jsonl_tables(photo_sequence, tmp_path):
    source, _ = photo_sequence
    table = tmp_path / "rows.jsonl"
    rows = [{"file": "seq1/frame_000.jpg", "object_id": "a", "azimuth_deg": 0},
            {"file": "seq1/frame_001.jpg", "object_id": "a", "azimuth_deg": 370, "bbox_x": 40, "bbox_y": 0,
             "bbox_w": 32, "bbox_h": 32}]  # fmt: skip
    table.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DatasetError, match=r"rows\.jsonl:2: bounding box .* not inside the 64x52 image"):
        import_dataset(source, tmp_path / "o", table=table)
    rows[1]["bbox_x"] = 10
    table.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = import_dataset(source, tmp_path / "o", table=table, size=24)
    got = load_records(res.root)
    assert [r.azimuth_deg for r in got] == [0.0, 10.0]  # 370 wraps to 10
    assert all(Image.open(res.root / r.file_name).size == (24, 24) for r in got)
    with pytest.raises(DatasetError, match="not empty"):
        import_dataset(source, tmp_path / "o", table=table)


def test_import_then_eval_pose_ssl_on_both_real_sets(small_dataset, degree_named, photo_sequence, tmp_path):
    """The must-show path: two imports, then one `eval pose-ssl` scoring both (plus the CLI's error lines)."""
    source, table = photo_sequence
    res = run_cli("data", "import", str(degree_named), "--out", str(tmp_path / "turn"), "--convention", "coil100")
    assert res.returncode == 0 and "imported 72 images of 6 objects" in res.stdout, res.stderr
    res = run_cli("data", "import", str(source), "--out", str(tmp_path / "photos"), "--table", str(table))
    assert res.returncode == 0, res.stderr
    azimuths = sorted({r.azimuth_deg for r in load_records(tmp_path / "turn")})
    assert azimuths == [float(STEP * p) for p in range(TURNTABLE_POSES)]
    out = tmp_path / "eval"
    res = run_cli("eval", "pose-ssl", "--model", "resnet18", "--data", str(small_dataset), "--no-coil20",
                  "--real", f"turn={tmp_path / 'turn'}", "--real", str(tmp_path / "photos"), "--taps", "pooled",
                  "--set", "linear_steps=20", "--set", "pair_steps=20", "--out", str(out), "-q")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "real set turn (pooled): relative azimuth" in res.stdout and "real set photos" in res.stdout
    saved = json.loads((out / "pose_ssl.json").read_text())
    assert set(saved["real"]) == {"turn", "photos"}
    for name in ("turn", "photos"):
        scores = saved["table"]["pooled"][name]["relative_azimuth"]
        assert 0 <= scores["bin_top1"] <= 100
    res = run_cli("data", "import", str(source), "--out", str(tmp_path / "x"), "--table", str(source / "nope.csv"))
    assert res.returncode == 1 and "nope.csv does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("eval", "pose-ssl", "--model", "resnet18", "--data", str(small_dataset), "--real", "/no/such/dir")
    assert res.returncode == 1 and "/no/such/dir is not a folder" in res.stderr and "Traceback" not in res.stderr


def test_resize_pads_by_default_and_stretches_on_request(tmp_path):
    """--size keeps the aspect ratio (pad) unless told to stretch; `data info` names the size or the range."""
    from vantage.data import summarize, summary_text

    src = tmp_path / "wide"
    src.mkdir()
    img = Image.new("RGB", (40, 20), (255, 0, 0))  # a red 2:1 photo
    img.save(src / "cup__0.png")
    img.save(src / "cup__1.png")
    pad = import_dataset(src, tmp_path / "pad", convention="index", size=16)
    px = np.asarray(Image.open(pad.root / load_records(pad.root)[0].file_name))
    assert px.shape == (16, 16, 3) and px[8, 8].tolist() == [255, 0, 0]
    assert px[0, 8].tolist() == [0, 0, 0] and px[15, 8].tolist() == [0, 0, 0]  # black bands above and below
    stretch = import_dataset(src, tmp_path / "str", convention="index", size=16, resize="stretch")
    assert np.asarray(Image.open(stretch.root / load_records(stretch.root)[0].file_name))[0, 8].tolist() == [255, 0, 0]
    with pytest.raises(DatasetError, match="resize must be one of"):
        import_dataset(src, tmp_path / "x", convention="index", size=16, resize="crop")
    assert "2 images of 16 px" in summary_text(summarize(pad.root))
    Image.new("RGB", (30, 50)).save(src / "cup__2.png")
    mixed = import_dataset(src, tmp_path / "mixed", convention="index")
    assert summarize(mixed.root)["image_size"] == "mixed sizes (40x20..30x50)"
    assert "3 images of mixed sizes (40x20..30x50);" in summary_text(summarize(mixed.root))


def test_folder_table_is_found_and_other_files_are_counted(photo_sequence, degree_named, tmp_path, capsys):
    source, table = photo_sequence
    own = tmp_path / "own"
    shutil.copytree(source, own)
    shutil.copy(table, own / "labels.csv")
    res = import_dataset(own, tmp_path / "o")
    assert res.images == TURNTABLE_OBJECTS * TURNTABLE_POSES
    assert "using the table" in capsys.readouterr().err
    (own / "labels.jsonl").write_text("{}\n")
    with pytest.raises(DatasetError, match=r"both labels\.csv and labels\.jsonl"):
        import_dataset(own, tmp_path / "o2")
    turn = tmp_path / "turn"
    shutil.copytree(degree_named, turn)
    (turn / "notes.txt").write_text("shot on a Tuesday")
    capsys.readouterr()
    import_dataset(turn, tmp_path / "t", convention="coil100")
    err = capsys.readouterr().err
    assert "skipped 1 file(s)" in err and "notes.txt" in err
