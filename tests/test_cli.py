"""The real `vantage` command, run in subprocesses: data build/info/verify/preview, bench, report, errors."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from conftest import run_cli
from vantage.data import load_records


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "quick"
    res = run_cli("data", "build", "--preset", "quick", "--out", str(out), "-q")
    assert res.returncode == 0, res.stderr
    assert "complete" in res.stdout and "manifest" in res.stdout
    assert "pybullet build time" not in res.stderr  # pybullet's import banner is kept out of the output
    return out


def test_quick_preset_builds_and_verifies(quick_build):
    assert run_cli("data", "verify", str(quick_build)).returncode == 0
    info = json.loads(run_cli("data", "info", str(quick_build), "--json").stdout)
    assert info["image_size"] == 32 and len(info["categories"]["in"]) == 13 and len(info["categories"]["out"]) == 11
    assert info["objects"] == {"out": 11, "test": 13, "train": 13, "val": 13}
    text = run_cli("data", "info", str(quick_build)).stdout
    assert "by_view_set" in text and "fib100" in text


def test_verify_names_the_corrupt_png_and_fails(quick_build, tmp_path):
    out = tmp_path / "q"
    shutil.copytree(quick_build, out)
    victim = load_records(out)[123].file_name
    (out / victim).write_bytes(b"\x89PNG not really")
    res = run_cli("data", "verify", str(out))
    assert res.returncode == 1
    assert victim in res.stderr and "corrupt" in res.stderr


def test_preview_contact_sheet(quick_build, tmp_path):
    sheet = tmp_path / "sheet.png"
    res = run_cli(
        "data",
        "preview",
        str(quick_build),
        "--out",
        str(sheet),
        "--instances",
        "2",
        "--size",
        "32",
        "--category",
        "car",
        "--category",
        "mug",
    )
    assert res.returncode == 0, res.stderr
    w, h = Image.open(sheet).size
    assert h == 18 + 2 * 32 and w == 110 + 2 * (6 * 32 + 6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "image_size=0"], "image_size must be an integer in 1..4096 pixels"),
        (["--set", "in_domain=[airplane, spaceship]"], "unknown category 'spaceship'"),
        (["--shard", "3/2"], "--shard i/n needs 0 <= i < n"),
        (["--preset", "nosuch"], "unknown preset 'nosuch'"),
    ],
)
def test_build_bad_input(tmp_path, args, message):
    res = run_cli("data", "build", "--out", str(tmp_path / "x"), "-q", *args)
    assert res.returncode == 1 and message in res.stderr
    assert "Traceback" not in res.stderr


def test_build_into_a_file_and_bad_meshes(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("keep me")
    res = run_cli("data", "build", "--preset", "quick", "--out", str(afile), "-q")
    assert res.returncode == 1 and "is a file" in res.stderr and afile.read_text() == "keep me"
    res = run_cli(
        "data", "build", "--preset", "quick", "--meshes", str(tmp_path / "nomeshes"), "--out", str(tmp_path / "m"), "-q"
    )
    assert res.returncode == 1 and "nomeshes" in res.stderr and "does not exist" in res.stderr
    bad = tmp_path / "meshes" / "crate" / "broken.obj"
    bad.parent.mkdir(parents=True)
    bad.write_text("v 0 0 0\nf 1 2 9\nnot a mesh\n")
    res = run_cli(
        "data",
        "build",
        "--meshes",
        str(tmp_path / "meshes"),
        "--set",
        "out_of_domain=[]",
        "--set",
        "in_domain=[]",
        "--out",
        str(tmp_path / "m2"),
        "-q",
        "--workers",
        "1",
    )
    assert res.returncode == 1 and "broken.obj" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "pose-ssl", "--checkpoint", "{garbage}"], "is corrupt or not a torch checkpoint"),
        (["eval", "classify", "--checkpoint", "{garbage}"], "is corrupt or not a torch checkpoint"),
        (["eval", "pose-ssl", "--checkpoint", "{missing}"], "does not exist"),
        (["train", "classify", "--3dtrl", "bogus", "--out", "{out}"], "got 'bogus'"),
        (["bench", "--preset", "quick", "--set", "ssl.eval.pair_steps=abc", "--out", "{out}"], "ssl.eval.pair_steps"),
        (["bench", "--preset", "quick", "--set", "trl3d.bench.variants=[huge]", "--out", "{out}"], "huge"),
        (["bench", "--preset", "quick", "--device", "tpu", "--out", "{out}"], "--device 'tpu' is not a device"),
        (["eval", "classify", "--checkpoint", "{garbage}", "--device", "cuda"], "no CUDA device is available"),
        (["eval", "zeroshot", "--model", "x", "--device", "cuda:1"], "no CUDA device is available"),
    ],
)
def test_eval_train_bench_bad_input(tmp_path, vantage_main, args, message):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    paths = {"garbage": garbage, "missing": tmp_path / "missing.ckpt", "out": tmp_path / "out"}
    code, _, err = vantage_main(*[a.format(**paths) for a in args])
    assert code == 1 and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # bad values are refused before anything is written


_TINY_SSL = [
    "--preset",
    "quick",
    "--epochs",
    "1",
    "--set",
    "image_size=16",
    "--set",
    "proj_dim=32",
    "--set",
    "hidden_dim=32",
    "-q",
]


def test_train_ssl_runs_and_resumes(quick_build, tmp_path):
    run = tmp_path / "ssl"
    args = [
        "train",
        "ssl",
        "--data",
        str(quick_build),
        "--out",
        str(run),
        "--traj-weight",
        "0.1",
        "--batch-size",
        "16",
        "--accelerator",
        "cpu",
        *_TINY_SSL,
    ]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "logs" / "version_0" / "metrics.csv").is_file()
    again = run_cli(*args)  # the same command again: resumes from last.ckpt, nothing left to do
    assert again.returncode == 0 and "resuming from" in again.stderr
    bad = run_cli("train", "ssl", "--data", str(tmp_path / "nowhere"), *_TINY_SSL)
    assert bad.returncode == 1 and "no built dataset" in bad.stderr
    # ... and the benchmark on the checkpoint it wrote
    res = run_cli(
        "eval", "pose-ssl", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--data", str(quick_build),
        "--preset", "quick", "--no-coil20", "-q",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "| pooled |" in res.stdout and "| conv3 |" in res.stdout
    report = json.loads((run / "eval" / "pose_ssl.json").read_text())
    assert set(report["table"]) == {"pooled", "conv3"} and report["config"]["image_size"] == 16
    assert 0 <= report["table"]["conv3"]["in_domain"]["absolute"]["top1"] <= 100
    res = run_cli("eval", "pose-ssl", "--data", str(quick_build), "-q")
    assert res.returncode == 1 and "--checkpoint" in res.stderr
    res = run_cli("eval", "pose-ssl", "--model", "resnet18", "--taps", "pooled,conv9", "--data", str(quick_build), "-q")
    assert res.returncode == 1 and "conv9" in res.stderr and "Traceback" not in res.stderr


def test_train_ssl_two_process_ddp_on_cpu(quick_build, tmp_path):
    run = tmp_path / "ddp"
    res = run_cli(
        "train",
        "ssl",
        "--method",
        "simclr",
        "--data",
        str(quick_build),
        "--out",
        str(run),
        "--devices",
        "2",
        "--accelerator",
        "cpu",
        "--batch-size",
        "8",
        "--traj-weight",
        "0.1",
        *(a for a in _TINY_SSL if a != "-q"),  # Lightning's start-up lines show the second process
        fresh_process=True,  # DDP starts a second process running the same command line
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("checkpoint:") == 1 and (run / "checkpoints" / "last.ckpt").is_file()
    assert "distributed_backend=gloo" in res.stderr and "Initializing distributed: GLOBAL_RANK: 1" in res.stderr


def test_bench_and_report(quick_build, tmp_path, turntable):
    run = tmp_path / "run"
    home = {"VANTAGE_HOME": str(tmp_path / "home")}  # the video suite builds its data in the cache
    args = ["--preset", "quick", "--data", str(quick_build), "--out", str(run), "--coil20", str(turntable), "-q"]
    res = run_cli("bench", *args, "--real", f"twin={turntable}", "--device", "cpu", env=home, fresh_process=True,
                  timeout=900)  # ~2 min on an idle 2-core machine; the limit only catches a hang on a loaded one
    assert res.returncode == 0, res.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "ok" and results["device"] == "cpu"
    data = results["suites"]["data"]
    assert data["verify"]["problems"] == 0 and data["build"]["rendered"] == 0  # reused the build
    assert data["coil20"]["images"] == 6 * 12 and data["coil20"]["objects"] == 6
    pose = results["suites"]["pose_ssl"]
    assert set(pose["table"]) == {"vicreg", "vicreg+traj0.1", "supervised", "random-init"}
    assert pose["train_config"]["accelerator"] == "cpu"  # --device cpu also places training
    assert pose["table"]["vicreg"]["conv3"]["semantics"]["linear_top1"]["n"] == 1
    assert "vicreg+traj0.1" in pose["deltas"]["traj_minus_plain"]
    assert (run / pose["plots"]["sphere"]).is_file() and (run / pose["plots"]["errors"]).is_file()
    page = (run / "report.html").read_text()
    assert "Contact sheet" in page and "data:image/png;base64" in page and "verified" in page
    assert page.index("Smoke-test scale") < page.index("Contact sheet") < page.index("<h3>Machine</h3>")
    assert page.index("Findings") < page.index("Contact sheet") and "1 seed: not decided" in page
    assert "Pose-aware SSL" in page and "vicreg+traj0.1" in page
    trl = results["suites"]["trl3d"]
    assert set(trl["table"]) == {"none", "improved"}  # rows keyed by Variant.key, shown by label
    assert trl["labels"] == {"none": "baseline", "improved": "+3DTRL improved"} and "+3DTRL improved" in page
    assert set(trl["table"]["none"]["top1"]) == {"seen_views", "unseen_poses", "perturbed"}
    assert -1 <= trl["table"]["improved"]["pseudo_depth"]["spearman_mean"]["mean"] <= 1
    assert (run / trl["plots"]["sphere"]).is_file() and (run / trl["plots"]["depth"]).is_file()
    assert "3DTRL: viewpoint-robust classification" in page
    ovt = results["suites"]["ovt"]
    assert ovt["order"] == ["base", "faithful", "improved"]
    assert set(ovt["table"]["base"]["groups"]) == {"clean", "2d_shift", "viewpoint", "real"}
    assert {"coil20_retrieval", "twin_retrieval"} <= set(ovt["table"]["base"]["sets"])  # --real sets beside COIL-20
    assert "twin" in pose["table"]["vicreg"]["pooled"] and "coil20" in pose["table"]["vicreg"]["pooled"]
    assert set(ovt["deltas"]) == {"faithful", "improved"} and (run / ovt["plots"]["sphere"]).is_file()
    assert "Omniview-Tuning" in page and (run / "ovt" / "faithful-seed0" / "model" / "vantage_ovt.pt").is_file()
    video = results["suites"]["video_align"]
    assert video["order"] == ["none-f1", "improved-f1"] and "fpv_tpv/unseen" in video["table"]["none-f1"]["groups"]
    assert "Multi-view video alignment" in page and (run / video["plots"]["retrieval"]).is_file()
    action = results["suites"]["action"]
    assert action["order"] == ["timesformer-cross_view", "timesformer_improved-cross_view"]
    assert set(action["table"]["timesformer-cross_view"]["per_camera"]) == {"tpv2", "tpv3", "tpv4"}
    assert "timesformer_improved-cross_view" in action["deltas"] and len(action["classes"]) == 9
    assert "TimeSformer +3DTRL improved [cross-view]" in page
    assert "Cross-view action recognition" in page and (run / action["plots"]["distance"]).is_file()
    ckpt = str(run / "trl3d" / "improved-seed0" / "checkpoints" / "last.ckpt")
    res = run_cli("eval", "classify", "--checkpoint", ckpt, "--data", str(quick_build), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert set(json.loads(res.stdout)["top1"]) == {"seen_views", "unseen_poses", "perturbed"}
    depth_args = ["eval", "depth", "--checkpoint", ckpt, "--data", str(quick_build), "--max-images", "20"]
    res = run_cli(*depth_args, "--min-foreground", "0.2")  # 16 px: a coarse 4x4 token grid
    assert res.returncode == 0, res.stderr
    assert -1 <= json.loads(res.stdout)["spearman_mean"] <= 1
    res = run_cli(*depth_args, "--min-foreground", "1.01")  # no cell can qualify: a clear error, no traceback
    assert res.returncode == 1 and "foreground tokens" in res.stderr and "Traceback" not in res.stderr
    # Re-running reuses every checkpoint and cached evaluation.
    res = run_cli(
        "bench",
        "--preset",
        "quick",
        "--data",
        str(quick_build),
        "--out",
        str(run),
        "--suite",
        "pose_ssl",
        "-q",
        "--coil20",
        str(turntable),
        "--real",
        f"twin={turntable}",
        env=home,
    )
    assert res.returncode == 0, res.stderr
    again = json.loads((run / "results.json").read_text())["suites"]["pose_ssl"]
    assert again["table"] == pose["table"] and "resuming from" in res.stderr
    (run / "report.html").unlink()
    res = run_cli("report", str(run), "--markdown")
    assert res.returncode == 0 and (run / "report.html").is_file()
    assert "| vicreg+traj0.1 |" in res.stdout  # results.json now holds the --suite pose_ssl re-run only
    missing = run_cli("report", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "results.json not found" in missing.stderr


def test_own_meshes_as_the_readme_shows(tmp_path):
    """ShapeNet-style synset folders with a taxonomy, the README's axis options and no category lists: the
    categories come from the folders; a failed build does not stop the corrected command (no --overwrite)."""
    from vantage.data.samples import write_mesh_folder

    root = write_mesh_folder(tmp_path / "ShapeNetCore")
    taxonomy = root / "taxonomy.json"
    broken = root / "03001627" / "model1" / "models" / "model_normalized.obj"
    good = broken.read_bytes()
    broken.write_text("v 0 0 0\nf 1 2 9\nnot a mesh\n")
    args = ["data", "build", "--meshes", str(root), "--set", "meshes.up=+y", "--set", "meshes.front=-z",
            "--preset", "quick", "--out", str(tmp_path / "sn"), "--workers", "1", "-q"]  # fmt: skip
    res = run_cli(*args)
    assert res.returncode == 1 and "model_normalized.obj" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "sn" / "dataset.json").exists()  # unfinished (the airplanes may be done)
    broken.write_bytes(good)
    res = run_cli(*args, "--set", f"meshes.taxonomy={taxonomy}")  # a corrected (different) command
    assert res.returncode == 0, res.stderr
    card = json.loads((tmp_path / "sn" / "dataset.json").read_text())
    assert card["categories"] == {"in": ["airplane", "chair"], "out": []}
    assert {r.category for r in load_records(tmp_path / "sn")} == {"airplane", "chair"}
