"""The second hardening pass (issue #22): nothing read from outside the folder a file belongs to, nothing deleted
that is not ours or is still being written, no run silently replaced, signals stop cleanly, and every bad input is
one line naming its file, line or field. One test per finding of the issue, numbered as there."""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, small_config
from vantage.config import ConfigError, from_dict, load_yaml
from vantage.data import BuildError, DatasetError, MultiViewDataset, build_dataset, load_records, verify_dataset
from vantage.io import atomic_write_json
from vantage.train.ssl import SSLTrainConfig


class _Marker:
    """A pickle that would create a file if it were ever unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _tiny_ssl(**changes) -> SSLTrainConfig:
    fields = dict(method="vicreg", batch_size=12, epochs=2, proj_dim=16, hidden_dim=16, image_size=16,
                  backbone_kwargs={"channels": [8, 8, 8, 8]}, stem="cifar_pool", accelerator="cpu")  # fmt: skip
    return SSLTrainConfig(**{**fields, **changes})


def _one_error_line(err: str) -> str:
    lines = [s for s in err.splitlines() if s.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def dataset_copy(small_dataset, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(small_dataset, root)
    return root


# 1 ------------------------------------------------------------------------------------------------------------
def test_report_embeds_figures_of_the_run_folder_only(tmp_path):
    from vantage.bench import render_report

    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret bytes of someone else")
    run = tmp_path / "run"
    run.mkdir()
    (run / "link.png").symlink_to(secret)
    plots = {"sphere": str(secret), "errors": "../secret.png"}
    trl_plots = {"sphere": "link.png"}
    results = {"suites": {"pose_ssl": {"plots": plots, "taps": []}, "trl3d": {"plots": trl_plots}}}
    (run / "results.json").write_text(json.dumps(results))
    page, _ = render_report(run)
    html = page.read_text()
    assert base64.b64encode(secret.read_bytes()).decode()[:24] not in html
    assert html.count("is not a file of this run") == 3


# 2 ------------------------------------------------------------------------------------------------------------
def test_depth_and_mask_files_are_read_only_inside_the_dataset(dataset_copy, tmp_path):
    from vantage.eval.zeroshot import _masks

    rows = [r for r in load_records(dataset_copy) if r.depth_file and r.mask_file]
    outside = tmp_path / "outside.npy"
    np.save(outside, np.ones((32, 32), np.float16))
    depth = dataset_copy / rows[0].depth_file
    depth.unlink()
    depth.symlink_to(outside)
    mask = dataset_copy / rows[1].mask_file
    mask.unlink()
    mask.symlink_to(outside)
    ds = MultiViewDataset(dataset_copy, split=rows[0].split, view_set=rows[0].view_set, with_depth=True)
    index = next(i for i, r in enumerate(ds.records) if r.depth_file == rows[0].depth_file)
    with pytest.raises(DatasetError, match="resolves outside the dataset folder"):
        ds[index]
    with pytest.raises(DatasetError, match="resolves outside the dataset folder"):
        _masks(dataset_copy, [rows[1]], 32)


# 3 ------------------------------------------------------------------------------------------------------------
def test_overwrite_never_deletes_a_build_that_is_running(tmp_path):
    from filelock import FileLock

    root = tmp_path / "d"
    (root / ".parts").mkdir(parents=True)
    (root / ".parts" / "build.json").write_text(json.dumps({"fingerprint": "another config"}))
    (root / "images").mkdir()
    (root / "images" / "half.png").write_bytes(b"being written")
    lock = FileLock(str(root / ".parts" / "build.lock"))
    lock.acquire(timeout=0)  # the other build
    try:
        with pytest.raises(BuildError, match="never deletes a running build"):
            build_dataset(small_config(name="other"), root, workers=1, progress=False, overwrite=True)
    finally:
        lock.release()
    assert (root / "images" / "half.png").read_bytes() == b"being written"


# 4 ------------------------------------------------------------------------------------------------------------
def test_a_run_folder_takes_one_training_at_a_time(small_dataset, tmp_path):
    from vantage.io import BusyError, folder_lock
    from vantage.train import train_ssl

    out = tmp_path / "run"
    with folder_lock(out, "training run"), pytest.raises(BusyError, match="another training run is writing"):
        train_ssl(_tiny_ssl(), small_dataset, out, progress=False)
    assert not (out / "checkpoints").exists() and not (out / "logs").exists()


# 5 ------------------------------------------------------------------------------------------------------------
def test_sigterm_mid_training_exits_143_and_the_run_resumes(small_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["train", "ssl", "--data", str(small_dataset), "--out", str(out), "-p", "quick", "-q", "--epochs", "40",
            "--batch-size", "12", "--image-size", "16", "--set", "backbone_kwargs={channels: [8, 8, 8, 8]}",
            "--set", "proj_dim=16", "--set", "hidden_dim=16", "--accelerator", "cpu"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "vantage", *args], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "checkpoints" / "last.ckpt").is_file() and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, err
    assert "error: interrupted (resumable: re-run the same command)" in _one_error_line(err)
    assert not (out / ".vantage.lock").exists() and (out / "checkpoints" / "last.ckpt").is_file()


# 6 ------------------------------------------------------------------------------------------------------------
def test_import_overwrite_never_deletes_the_source_or_a_foreign_folder(turntable, tmp_path):
    before = sorted(p.name for p in turntable.iterdir())
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    cases = [(turntable, "is, holds or lies inside the image folder"),
             (turntable.parent, "is, holds or lies inside the image folder"),
             (foreign, "holds no vantage dataset")]  # fmt: skip
    for out, message in cases:
        res = run_cli("data", "import", str(turntable), "--convention", "index", "--out", str(out), "--overwrite")
        assert res.returncode == 1 and message in _one_error_line(res.stderr), res.stderr
    assert sorted(p.name for p in turntable.iterdir()) == before
    assert (foreign / "thesis.tex").read_text() == "years of work"


# 7 ------------------------------------------------------------------------------------------------------------
def test_yaml_aliases_oversized_files_and_unknown_sections_are_refused(small_dataset, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
                                                       for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    bomb.write_text("\n".join(levels) + "\ndata: {name: *i}\n")
    with pytest.raises(ConfigError, match="YAML aliases") as err:
        load_yaml(bomb)
    assert len(str(err.value)) < 400
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="a preset is at most"):
        load_yaml(big)
    typo = tmp_path / "typo.yaml"
    typo.write_text("extends: quick\nsssl: {train: {epochs: 1}}\n")
    res = run_cli("data", "build", "--preset", str(typo), "--out", str(tmp_path / "d"), "-q")
    assert res.returncode == 1 and "unknown preset section(s) ['sssl']" in _one_error_line(res.stderr)
    typo.write_text("extends: quick\nssl: {trian: {epochs: 1}}\n")
    res = run_cli("train", "ssl", "--preset", str(typo), "--data", str(small_dataset), "--out", str(tmp_path / "r"))
    assert res.returncode == 1 and "unknown key(s) ['trian'] in ssl" in _one_error_line(res.stderr)


# 8 ------------------------------------------------------------------------------------------------------------
def test_absurd_sizes_are_refused_before_any_work(small_dataset, turntable, tmp_path):
    cases = [
        (("data", "build", "-p", "quick", "--set", "image_size=100000", "--out", str(tmp_path / "d")),
         "image_size must be an integer in 1..4096 pixels, got 100000"),
        (("data", "import", str(turntable), "--convention", "index", "--size", "100000", "--out", str(tmp_path / "i")),
         "size must be in 8..4096 pixels, got 100000"),
        (("train", "ssl", "-p", "quick", "--data", str(small_dataset), "--image-size", "100000", "--out",
          str(tmp_path / "r")), "image_size must be an integer in 8..4096 pixels, got 100000"),
        (("train", "ssl", "-p", "quick", "--data", str(small_dataset), "--epochs", "0", "--out", str(tmp_path / "r")),
         "epochs must be in 1..100000, got 0"),
    ]  # fmt: skip
    for args, message in cases:
        start = time.perf_counter()
        res = run_cli(*args)
        assert res.returncode == 1 and message in _one_error_line(res.stderr), (args, res.stderr)
        assert time.perf_counter() - start < 60
    assert not (tmp_path / "d").exists() and not (tmp_path / "i").exists() and not (tmp_path / "r").exists()


# 9 ------------------------------------------------------------------------------------------------------------
def test_a_nan_azimuth_is_refused_and_no_json_holds_a_bare_nan(dataset_copy, tmp_path):
    meta = dataset_copy / "metadata.jsonl"
    lines = meta.read_text().splitlines()
    row = json.loads(lines[3])
    row["azimuth_deg"] = float("nan")
    lines[3] = json.dumps(row)
    meta.write_text("\n".join(lines) + "\n")
    problems = [str(p) for p in verify_dataset(dataset_copy)]
    assert any("line 4: field azimuth_deg=nan must be a finite number" in p for p in problems), problems
    assert any("metadata_sha256" in p for p in problems), problems  # metadata.jsonl is covered by the card
    with pytest.raises(DatasetError, match="line 4: field azimuth_deg=nan must be a finite number"):
        load_records(dataset_copy)
    out = tmp_path / "r.json"
    atomic_write_json(out, {"score": float("nan"), "list": [float("inf"), 1.0]})
    assert "NaN" not in out.read_text() and json.loads(out.read_text()) == {"score": None, "list": [None, 1.0]}


def test_a_rebuild_repairs_an_emptied_index(tmp_path):
    cfg = small_config(name="rep", in_domain=["car"], out_of_domain=[], objects_per_category=1, depth=[], mask=[])
    root = tmp_path / "d"
    build_dataset(cfg, root, workers=1, progress=False)
    good = (root / "metadata.jsonl").read_bytes()
    (root / "metadata.jsonl").write_text("")
    assert any("metadata_sha256" in str(p) for p in verify_dataset(root))
    build_dataset(cfg, root, workers=1, progress=False)
    assert (root / "metadata.jsonl").read_bytes() == good and verify_dataset(root) == []


# 10 -----------------------------------------------------------------------------------------------------------
def test_import_refuses_rows_no_reader_would_accept(turntable, tmp_path):
    table = tmp_path / "t.jsonl"
    name = sorted(p.name for p in turntable.iterdir())[0]
    table.write_text(json.dumps({"file": name, "object_id": "o", "azimuth_deg": 0, "frame_index": 3}) + "\n")
    res = run_cli("data", "import", str(turntable), "--table", str(table), "--out", str(tmp_path / "o"))
    assert res.returncode == 1 and f"{table}:1: sequence_id and frame_index must be given together" in res.stderr
    for bad in (True, -1e300):
        table.write_text(json.dumps({"file": name, "object_id": "o", "azimuth_deg": bad}) + "\n")
        res = run_cli("data", "import", str(turntable), "--table", str(table), "--out", str(tmp_path / "o"))
        assert res.returncode == 1 and "azimuth_deg=" in _one_error_line(res.stderr)
    assert not (tmp_path / "o").exists()


# 11 -----------------------------------------------------------------------------------------------------------
def test_encodings_byte_order_marks_nul_and_non_object_rows_name_file_and_line(turntable, dataset_copy, tmp_path):
    names = sorted(p.name for p in turntable.iterdir())[:2]
    csv = tmp_path / "t.csv"
    csv.write_bytes("\ufefffile,object_id,azimuth_deg\n".encode() + f"{names[0]},o,0\n{names[1]},o,30\n".encode())
    res = run_cli("data", "import", str(turntable), "--table", str(csv), "--out", str(tmp_path / "bom"))
    assert res.returncode == 0, res.stderr  # a spreadsheet's byte-order mark is read, not a missing column
    csv.write_bytes(b"file,object_id,azimuth_deg\n" + f"{names[0]},o,0\n".encode() + b"caf\xe9.png,o,30\n")
    res = run_cli("data", "import", str(turntable), "--table", str(csv), "--out", str(tmp_path / "latin"))
    assert res.returncode == 1 and f"{csv}:3: not UTF-8 text" in _one_error_line(res.stderr)
    meta = dataset_copy / "metadata.jsonl"
    lines = meta.read_text().splitlines()
    nul = json.loads(lines[0]) | {"file_name": "images/a\x00b.png"}
    meta.write_text("\n".join([lines[0], "[]", "null", "123", json.dumps(nul), *lines[1:]]) + "\n")
    problems = [str(p) for p in verify_dataset(dataset_copy)]
    for lineno, kind in ((2, "list"), (3, "NoneType"), (4, "int")):
        assert any(f"line {lineno}: expected a JSON object (one row), got {kind}" in p for p in problems), problems
    assert any("line 5: field file_name=" in p for p in problems), problems
    res = run_cli("data", "info", str(dataset_copy))
    assert res.returncode == 1 and "line 2: expected a JSON object" in _one_error_line(res.stderr)
    meta.write_bytes(b'{"file_name": "caf\xe9"}\n')
    res = run_cli("data", "info", str(dataset_copy))
    assert res.returncode == 1 and "metadata.jsonl line 1: not UTF-8 text" in _one_error_line(res.stderr)


# 12 -----------------------------------------------------------------------------------------------------------
def test_crafted_weights_are_one_line_at_every_loader(small_dataset, tmp_path):
    import torch
    from transformers import ViTConfig, ViTModel

    from vantage.models import create_backbone, create_clip, save_clip
    from vantage.models.encoders import hf_image_encoder
    from vantage.models.hub import ForeignWeightsError

    marker = tmp_path / "pwned"
    evil = pickle.dumps({"state_dict": _Marker(str(marker))})
    (tmp_path / "evil.pt").write_bytes(evil)
    clip_dir = tmp_path / "clip"
    save_clip(*create_clip("vantage-clip-tiny"), clip_dir)
    (clip_dir / "open_clip_pytorch_model.bin").write_bytes(evil)
    hf_dir = tmp_path / "hf"
    ViTModel(ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                       image_size=32, patch_size=16)).save_pretrained(hf_dir)  # fmt: skip
    for weights in hf_dir.glob("*.safetensors"):
        weights.unlink()  # a folder with the older pickle format instead
    (hf_dir / "pytorch_model.bin").write_bytes(evil)
    loaders = [
        lambda: create_backbone("resnet18", checkpoint=tmp_path / "evil.pt"),  # --model/--checkpoint, timm:NAME:FILE
        lambda: create_clip(str(clip_dir)),  # clip:FOLDER, eval zeroshot --model, train ovt --base
        lambda: create_clip("ViT-B-32", pretrained=str(tmp_path / "evil.pt")),  # eval zeroshot --pretrained FILE
        lambda: hf_image_encoder(str(hf_dir)),  # hf:FOLDER
    ]
    for load in loaders:
        with pytest.raises(ForeignWeightsError, match="is not a vantage / open_clip / Hugging Face checkpoint") as e:
            load()
        assert "weights_only=False" not in str(e.value)
    for args in (("eval", "pose-ssl", "--model", "resnet18", "--checkpoint", str(tmp_path / "evil.pt")),
                 ("eval", "zeroshot", "--model", str(clip_dir))):  # fmt: skip
        res = run_cli(*args, "--data", str(small_dataset), "--no-coil20")
        assert res.returncode == 1 and "not a vantage / open_clip / Hugging Face" in _one_error_line(res.stderr)
    assert not marker.exists() and torch.__version__


# 13 -----------------------------------------------------------------------------------------------------------
def test_litter_of_killed_imports_and_failed_training_is_removed(turntable, dataset_copy, tmp_path):
    from vantage.train import train_ssl

    out = tmp_path / "imp"
    stale = tmp_path / ".imp.importing-999999"  # the temporary folder of an import killed by SIGKILL
    (stale / "images").mkdir(parents=True)
    res = run_cli("data", "import", str(turntable), "--convention", "index", "--out", str(out))
    assert res.returncode == 0 and not stale.exists() and "left by an import that was killed" in res.stderr
    for image in (dataset_copy / "images").rglob("*.png"):
        image.write_bytes(b"not a png")  # the first batch fails, before any checkpoint
    run = tmp_path / "run"
    with pytest.raises(Exception, match=r"not a png|cannot identify|corrupt"):
        train_ssl(_tiny_ssl(epochs=1), dataset_copy, run, progress=False)
    assert not (run / "logs").exists() and not (run / "checkpoints").exists()


# 14 -----------------------------------------------------------------------------------------------------------
def test_epoch_limits_speak_with_one_voice():
    for epochs in (0, -1, 10**9):
        with pytest.raises(ConfigError, match=rf"epochs must be in 1..100000, got {epochs}"):
            from_dict(SSLTrainConfig, {"epochs": epochs})
