"""Faults and bad input (issue #12): kill -9 at each write point, full disks, crafted files, and the cases that
used to give a wrong result with no error. Each test is a row of docs/reliability.md."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli, small_config
from vantage.data import BuildConfig, BuildError, DatasetError, build_dataset, load_records, verify_dataset
from vantage.data.build import SplitConfig
from vantage.data.views import ViewSetConfig
from vantage.train import SSLTrainConfig, train_ssl
from vantage.train.common import CheckpointError, NonFiniteLossError

SRC = Path(__file__).resolve().parents[1] / "src"


def _tiny_build_config() -> BuildConfig:
    return small_config(name="faults", in_domain=["car", "chair"], out_of_domain=["mug"], objects_per_category=3,
                        view_sets={"fib50": ViewSetConfig("fibonacci", 12), "triplet": ViewSetConfig("triplet", 2)},
                        assign={"train": ["fib50", "triplet"], "val": ["fib50"], "test": ["fib50"],
                                "out": ["fib50"]})  # fmt: skip


def _tiny_fields() -> dict:
    from vantage.config import to_dict

    return to_dict(_tiny_build_config())


_TINY_FIELDS = _tiny_fields()  # the same config, as plain data for the kill drivers (they import no torch)


def _tiny_ssl(**changes) -> SSLTrainConfig:
    fields = dict(method="vicreg", traj_weight=0.5, batch_size=12, epochs=2, proj_dim=16, hidden_dim=16,
                  image_size=16, backbone_kwargs={"channels": [8, 8, 8, 8]}, stem="cifar_pool",
                  accelerator="cpu")  # fmt: skip
    return SSLTrainConfig(**{**fields, **changes})


@pytest.fixture(scope="module")
def triplets(tmp_path_factory) -> Path:
    cfg = small_config(name="ftrip", in_domain=["car", "chair"], out_of_domain=[], objects_per_category=4,
                       split=SplitConfig(train=0.5, val=0.5, test=0.0),
                       view_sets={"triplet": ViewSetConfig("triplet", 6, step_deg=10.0)},
                       assign={"train": ["triplet"], "val": ["triplet"]}, depth=[], mask=[])  # fmt: skip
    root = tmp_path_factory.mktemp("ftrip") / "d"
    build_dataset(cfg, root, workers=1, progress=False)
    return root


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the build lock aside) with its sha256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.lock"
    }


# --------------------------------------------------------------------------------------- kill -9 harness

_DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {src!r}); sys.path.insert(0, {tests!r})
    target, nth, phase = {target!r}, {nth}, {phase!r}
    real_replace, seen = os.replace, [0]

    def replace(src, dst, *a, **k):  # SIGKILL this process at the nth publication of a file named like target
        hit = target in os.path.basename(str(dst))
        if hit:
            seen[0] += 1
        if hit and seen[0] == nth and phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst, *a, **k)
        if hit and seen[0] == nth and phase == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    {body}
    """
)


def _run_killed(body: str, target: str, nth: int = 1, phase: str = "before") -> subprocess.CompletedProcess:
    code = _DRIVER.format(src=str(SRC), tests=str(Path(__file__).parent), target=target, nth=nth, phase=phase,
                          body=textwrap.dedent(body).strip())  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def reference_build(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ref") / "d"
    build_dataset(_tiny_build_config(), root, workers=1, progress=False)
    return _tree(root)


@pytest.mark.parametrize(
    ("target", "nth", "phase"),
    [
        (".png", 1, "before"),  # the first image
        (".png", 40, "after"),  # mid-object, after an image was published
        ("car-001.json", 1, "before"),  # a part record (object done)
        ("metadata.jsonl", 1, "before"),  # the rows, written once every object is done
        ("checksums.sha256", 1, "after"),  # between the checksums and the card
        ("dataset.json", 1, "before"),  # the card, the last write
    ],
)
def test_build_killed_at_each_write_point_resumes_byte_identical(tmp_path, reference_build, target, nth, phase):
    root = tmp_path / "d"
    body = f"""
    from vantage.data import build_dataset
    from vantage.data.build import BuildConfig
    from vantage.config import from_dict
    build_dataset(from_dict(BuildConfig, {_TINY_FIELDS!r}), {str(root)!r}, workers=1, progress=False)
    """
    killed = _run_killed(body, target, nth, phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    res = build_dataset(_tiny_build_config(), root, workers=1, progress=False)
    assert res.complete and not verify_dataset(root)
    assert _tree(root) == reference_build  # byte for byte, no temp file left


def test_train_killed_at_each_checkpoint_write_resumes_bitwise(tmp_path, triplets):
    straight = torch.load(train_ssl(_tiny_ssl(), triplets, tmp_path / "a", progress=False), weights_only=True)
    for k, (target, nth, phase) in enumerate([("epoch000.ckpt", 1, "before"), ("last.ckpt", 1, "before"),
                                              ("last.ckpt", 1, "after"), ("last.ckpt", 2, "before")]):  # fmt: skip
        out = tmp_path / f"k{k}"
        body = f"""
        from test_faults import _tiny_ssl
        from vantage.train import train_ssl
        train_ssl(_tiny_ssl(), {str(triplets)!r}, {str(out)!r}, progress=False)
        """
        killed = _run_killed(body, target, nth, phase)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        resumed = torch.load(train_ssl(_tiny_ssl(), triplets, out, progress=False), weights_only=True)
        assert resumed["epoch"] == straight["epoch"] == 1
        for name, v in straight["state_dict"].items():
            assert torch.equal(resumed["state_dict"][name], v), (target, name)
        assert not [p for p in (out / "checkpoints").iterdir() if ".tmp-" in p.name or "-v1" in p.name]


# --------------------------------------------------------------------------------------------- full disk


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip() or 'not permitted'})")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_during_build_names_the_path_and_leaves_no_temp(tiny_disk):
    res = run_cli("data", "build", "--preset", "quick", "--out", str(tiny_disk / "d"), "--workers", "1", "-q")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    line = [s for s in res.stderr.splitlines() if s.startswith("error:")]
    assert len(line) == 1 and "could not write" in line[0] and str(tiny_disk) in line[0], res.stderr
    assert not [p for p in tiny_disk.rglob("*") if ".tmp-" in p.name]


def test_full_disk_during_a_checkpoint_write(tiny_disk, triplets):
    with pytest.raises(OSError, match="could not write") as err:
        train_ssl(_tiny_ssl(backbone_kwargs={"channels": [32, 64, 64, 128]}), triplets, tiny_disk / "run",
                  progress=False)  # fmt: skip
    assert str(tiny_disk) in str(err.value)
    assert not [p for p in tiny_disk.rglob("*") if ".tmp-" in p.name]


# ------------------------------------------------------------------------------- the five silent cases


def test_moved_run_folder_reports_its_own_last_checkpoint(tmp_path, triplets):
    train_ssl(_tiny_ssl(), triplets, tmp_path / "a", progress=False, stop_after=1)
    shutil.move(tmp_path / "a", tmp_path / "b")
    last = train_ssl(_tiny_ssl(), triplets, tmp_path / "b", progress=False)
    assert torch.load(last, weights_only=True)["epoch"] == 1  # the finished run, not the stale epoch-0 file
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == [
        "epoch000.ckpt", "epoch001.ckpt", "last.ckpt"]  # fmt: skip


def test_non_finite_loss_stops_training_and_evaluators_refuse_nan_weights(tmp_path, triplets, vantage_main):
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step \d+: vicreg loss"):
        train_ssl(_tiny_ssl(optimizer="adamw", lr=1e6), triplets, tmp_path / "nan", progress=False)
    good = train_ssl(_tiny_ssl(epochs=1), triplets, tmp_path / "ok", progress=False)
    ckpt = torch.load(good, weights_only=True)
    first = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
    ckpt["state_dict"][first] = torch.full_like(ckpt["state_dict"][first], float("nan"))
    torch.save(ckpt, tmp_path / "nan.ckpt")
    code, _, err = vantage_main("eval", "pose-ssl", "--checkpoint", str(tmp_path / "nan.ckpt"), "--data",
                                str(triplets))  # fmt: skip
    assert code == 1 and "weights are not finite" in err and "Traceback" not in err
    code, _, err = vantage_main("train", "ssl", "--data", str(triplets), "--out", str(tmp_path / "cli"),
                                "--preset", "quick", "--set", "optimizer=adamw", "--set", "lr=1000000.0",
                                "--epochs", "2", "--batch-size", "12", "-q")  # fmt: skip
    assert code == 1 and "non-finite loss at step" in err and "Traceback" not in err


def test_changed_config_on_resume_is_refused_unless_overwrite(tmp_path, triplets):
    run = tmp_path / "run"
    train_ssl(_tiny_ssl(epochs=1), triplets, run, progress=False)
    with pytest.raises(CheckpointError, match=r"another config \(lr: 0.3 -> 0.1; traj_weight: 0.5 -> 0.2\)"):
        train_ssl(_tiny_ssl(epochs=1, lr=0.1, traj_weight=0.2), triplets, run, progress=False)
    with pytest.raises(CheckpointError, match="method: 'vicreg' -> 'simclr'"):
        train_ssl(_tiny_ssl(epochs=1, method="simclr"), triplets, run, progress=False)
    last = train_ssl(_tiny_ssl(epochs=1, lr=0.1), triplets, run, progress=False, overwrite=True)
    assert torch.load(last, weights_only=True)["hyper_parameters"]["cfg"]["lr"] == 0.1
    train_ssl(_tiny_ssl(epochs=1, lr=0.1, num_workers=1), triplets, run, progress=False)  # loader workers are free


def test_rows_pointing_outside_the_dataset_are_refused(tmp_path, small_dataset):
    root = tmp_path / "d"
    shutil.copytree(small_dataset, root)
    meta = root / "metadata.jsonl"
    lines = meta.read_text().splitlines()
    for bad in ("../../../../etc/passwd", "/etc/passwd", "images/../../x.png"):
        row = json.loads(lines[0]) | {"file_name": bad}
        meta.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
        with pytest.raises(DatasetError, match="must be a relative path inside the dataset folder"):
            load_records(root)
        assert any("relative path inside" in str(p) for p in verify_dataset(root))
    meta.write_text("\n".join(lines) + "\n")
    first = json.loads(lines[0])["file_name"]
    (root / first).unlink()
    (root / first).symlink_to("/etc/hostname")  # a link out of the folder: refused when read, and by verify
    assert any("resolves outside" in str(p) for p in verify_dataset(root))
    from vantage.data import MultiViewDataset

    ds = MultiViewDataset(root, split=None)
    k = next(i for i, r in enumerate(ds.records) if r.file_name == first)
    with pytest.raises(DatasetError, match="resolves outside"):
        ds[k]


def test_resume_rerenders_a_finished_image_that_was_emptied(tmp_path, reference_build):
    root = tmp_path / "d"
    killed = _run_killed(f"""
        from vantage.data import build_dataset
        from vantage.data.build import BuildConfig
        from vantage.config import from_dict
        build_dataset(from_dict(BuildConfig, {_TINY_FIELDS!r}), {str(root)!r}, workers=1, progress=False)
        """, "chair-000.json", 1, "before")  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    victim = next((root / "images").rglob("*.png"))  # of a finished object
    victim.write_bytes(b"")
    assert build_dataset(_tiny_build_config(), root, workers=1, progress=False).complete
    assert _tree(root) == reference_build
    (root / "metadata.jsonl").unlink()  # a published file deleted after the build: restored, not "complete"
    build_dataset(_tiny_build_config(), root, workers=1, progress=False)
    assert _tree(root) == reference_build


# ----------------------------------------------------------------------------------------- crafted files


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_crafted_pickles_never_run(tmp_path, triplets, vantage_main):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"state_dict": _Marker(str(marker)), "hyper_parameters": {}}))
    for args in (["eval", "pose-ssl", "--checkpoint", str(evil), "--data", str(triplets)],
                 ["eval", "classify", "--checkpoint", str(evil), "--data", str(triplets)],
                 ["eval", "depth", "--checkpoint", str(evil), "--data", str(triplets)]):  # fmt: skip
        code, _, err = vantage_main(*args)
        assert code == 1 and "corrupt or not a torch checkpoint" in err and "Traceback" not in err
    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    shutil.copy(evil, run / "last.ckpt")  # the resume path
    with pytest.raises(CheckpointError, match="corrupt or not a torch checkpoint"):
        train_ssl(_tiny_ssl(), triplets, tmp_path / "run", progress=False)
    assert not marker.exists()


def test_truncated_last_checkpoint_names_the_newest_intact_one(tmp_path, triplets, vantage_main):
    train_ssl(_tiny_ssl(), triplets, tmp_path / "run", progress=False)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"last.ckpt is corrupt.*newest intact one is .*epoch001.ckpt"):
        train_ssl(_tiny_ssl(), triplets, tmp_path / "run", progress=False)
    code, _, err = vantage_main("train", "ssl", "--data", str(triplets), "--out", str(tmp_path / "run"), "-q",
                                "--preset", "quick")  # fmt: skip
    assert code == 1 and "newest intact" in err and "Traceback" not in err


# -------------------------------------------------------------------------------------------- leftovers


def test_a_second_build_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from filelock import FileLock

    root = tmp_path / "d"
    build_dataset(_tiny_build_config(), root, workers=1, progress=False)
    with FileLock(str(root / ".parts" / "build.lock")), pytest.raises(BuildError, match="another build is writing"):
        build_dataset(_tiny_build_config(), root, workers=1, progress=False)


def test_a_rejected_build_leaves_nothing_behind(tmp_path):
    out = tmp_path / "d"
    res = run_cli("data", "build", "--preset", "quick", "--out", str(out), "--set", "camera.fov_deg=500", "-q")
    assert res.returncode == 1 and "fov_deg must be in [1, 170]" in res.stderr and not out.exists()
    res = run_cli("data", "build", "--preset", "quick", "--out", str(out), "--meshes", str(tmp_path / "none"), "-q")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert not (out / ".parts" / "build.json").exists()


def test_render_workers_die_with_a_killed_parent(tmp_path):
    tag = tmp_path / "orphans"
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(SRC)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        from vantage.data import build_dataset
        from conftest import small_config
        build_dataset(small_config(name="orph"), {str(tag)!r}, workers=2, progress=False)
        """)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while time.time() < deadline and not list(tag.glob("images/*/*.png")):
        time.sleep(0.2)
    children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    assert len(children) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    alive = [c for c in children if Path(f"/proc/{c}").exists() and "Z" not in Path(f"/proc/{c}/stat").read_text()
             .split()[2]]  # fmt: skip
    assert not alive


# ------------------------------------------------------------------------------- bad input: one line each


@pytest.fixture(scope="module")
def classify_ckpt(tmp_path_factory, small_dataset) -> Path:
    from vantage.train import ClassifyTrainConfig, train_classify

    cfg = ClassifyTrainConfig(model_kwargs={"patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 1},
                              epochs=1, batch_size=16, image_size=16, warmup_epochs=0, accelerator="cpu")  # fmt: skip
    return train_classify(cfg, small_dataset, tmp_path_factory.mktemp("cls") / "run", progress=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "ssl", "--set", "image_size=-16"], "image_size must be an integer in 8..4096 pixels, got -16"),
        (["train", "ssl", "--set", "backbone=notamodel"], "unknown timm model 'notamodel'"),
        (["train", "ssl", "--set", "warmup_epochs=-1"], "warmup_epochs must be >= 0, got -1"),
        (["train", "classify", "--set", "model=deit_tny_patch16_224"], "did you mean deit_tiny_patch16_224"),
        (["eval", "pose-ssl", "--checkpoint", "{classify}"], "is not a `vantage train ssl` checkpoint"),
        (["eval", "pose-ssl", "--checkpoint", "{folder}"], "is a folder, not a checkpoint file (did you mean"),
        (["report", "{bad_results}"], "AttributeError"),  # an unexpected error: one line, traceback in a log
    ],
)
def test_bad_input_gets_one_line(vantage_main, tmp_path, small_dataset, classify_ckpt, args, message):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text(json.dumps({"suites": {"trl3d": {"table": {"x": "not a table"}}}}))
    subs = {"{classify}": str(classify_ckpt), "{folder}": str(classify_ckpt.parents[1]), "{bad_results}": str(bad)}
    args = [subs.get(a, a) for a in args]
    if args[0] == "train":
        args += ["--data", str(small_dataset), "--out", str(tmp_path / "run"), "--preset", "quick", "-q"]
    elif args[0] == "eval":
        args += ["--data", str(small_dataset)]
    code, _, err = vantage_main(*args)
    lines = [s for s in err.splitlines() if s.startswith("error:")]
    assert code == 1 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    if "traceback:" in lines[0]:
        log = Path(lines[0].split("traceback: ")[1].split(";")[0])
        assert "Traceback" in log.read_text()


def test_numbers_in_yaml_1_1_form_are_numbers(tmp_path):
    from vantage.bench import method_settings

    preset = tmp_path / "p.yaml"
    preset.write_text("extends: quick\nssl: {train: {lr: 3e-4}}\n")
    assert method_settings("pose_ssl", str(preset))["train"].lr == 3e-4
    from vantage.config import set_override

    fields: dict = {}
    set_override(fields, "lr=1e-4")
    assert SSLTrainConfig(**{"lr": float(fields["lr"])}).lr == 1e-4
    from vantage.config import from_dict

    assert from_dict(SSLTrainConfig, fields, "t").lr == 1e-4


def test_verify_names_the_line_of_bad_json(tmp_path, small_dataset):
    root = tmp_path / "d"
    shutil.copytree(small_dataset, root)
    lines = (root / "metadata.jsonl").read_text().splitlines()
    lines[99] = lines[99][:-5]
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    assert any("metadata.jsonl line 100: not valid JSON" in str(p) for p in verify_dataset(root))


def test_misnamed_turntable_files_are_reported(tmp_path, turntable):
    root = tmp_path / "t"
    shutil.copytree(turntable, root)
    shutil.copy(root / "obj1__0.png", root / "obj1_1.png")
    from vantage.data import load_turntable_records

    with pytest.warns(UserWarning, match=r"skipping 1 image file\(s\) not named <object>__<pose>.<ext>: obj1_1.png"):
        load_turntable_records(root)


def test_debug_prints_the_traceback(capsys, monkeypatch, tmp_path):
    from vantage import cli

    (tmp_path / "results.json").write_text(json.dumps({"suites": {"trl3d": {"table": {"x": 1}}}}))
    monkeypatch.setattr(sys, "argv", ["vantage", "--debug", "report", str(tmp_path)])
    with pytest.raises(AttributeError):
        cli.main()


def test_written_files_follow_the_umask(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the published file has the mode open() would give it."""
    from vantage.io import atomic_write_bytes, publish, temp_path

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        tmp = temp_path(tmp_path / "b.bin")
        tmp.write_bytes(b"y")
        publish(tmp, tmp_path / "b.bin")
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "c.bin", b"z")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"a.bin": 0o644, "b.bin": 0o644, "c.bin": 0o600}
