"""A method that lives in another package drops in through the `vantage.methods` entry point, and the generated
train / eval commands keep every option the hand-written ones had."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from vantage.bench import METHODS, method_commands
from vantage.bench import plugin as plugin_module

PACKAGE_DIR = Path(__file__).parent / "data" / "method_package"
OPTIONS_BEFORE = Path(__file__).parent / "data" / "cli_options_before.json"


@pytest.fixture
def method_package():
    """The tiny package on sys.path with its entry-point metadata, as `pip install` would leave it."""
    sys.path.insert(0, str(PACKAGE_DIR))
    importlib.invalidate_caches()
    plugin_module._LOADED["entry_points"] = False
    yield
    sys.path.remove(str(PACKAGE_DIR))
    METHODS.pop("tinymethod", None)
    sys.modules.pop("vantage_tinymethod", None)
    importlib.invalidate_caches()
    plugin_module._LOADED["entry_points"] = False


def test_a_method_from_another_package_runs_everywhere(method_package, vantage_main, small_dataset, tmp_path):
    code, out, err = vantage_main("train", "tinymethod", "--data", str(small_dataset), "-p", "quick",
                                  "--out", str(tmp_path / "run"), "--feature", "gray")  # fmt: skip
    assert code == 0, err
    model = tmp_path / "run" / "centroids.json"
    assert f"model: {model}" in out
    saved = json.loads(model.read_text())
    assert saved["config"]["feature"] == "gray" and saved["config"]["bins"] == 2  # the package's own quick value
    assert sorted(saved["centroids"]) == ["airplane", "car", "chair"]

    code, out, err = vantage_main("eval", "tinymethod", "--checkpoint", str(model), "--data", str(small_dataset),
                                  "-p", "quick", "--out", str(tmp_path / "eval.json"))  # fmt: skip
    assert code == 0, err
    top1 = json.loads((tmp_path / "eval.json").read_text())["top1"]
    assert set(top1) == {"canonical", "fib100"} and all(0 <= v <= 100 for v in top1.values())

    bench = tmp_path / "bench"
    code, out, err = vantage_main("bench", "--preset", "quick", "--suite", "tinymethod", "--data", str(small_dataset),
                                  "--out", str(bench), "-q")  # fmt: skip
    assert code == 0, err
    res = json.loads((bench / "results.json").read_text())["suites"]["tinymethod"]
    assert res["order"] == ["rgb", "gray"] and "gray" in res["deltas"]
    html = (bench / "report.html").read_text()
    assert "Tiny method: colour-histogram centroids" in html and "gray instead of rgb" in html  # section + finding

    code, out, err = vantage_main("report", str(bench))
    assert code == 0 and "report.html" in out, err


def test_bad_input_on_generated_commands_is_one_line(method_package, vantage_main, small_dataset, tmp_path):
    cases = [
        (("train", "tinymethod", "--data", str(small_dataset), "--bins", "many"), 2, "Invalid value for '--bins'"),
        (("train", "tinymethod", "--data", str(small_dataset), "--no-such-option"), 2, "No such option"),
        (("train", "tinymethod", "--data", str(tmp_path / "missing")), 1, "no built dataset at"),
        (("train", "tinymethod", "--data", str(small_dataset), "--bins", "0"), 1, "bins must be in 1..64, got 0"),
    ]
    for args, want_code, message in cases:
        code, _, err = vantage_main(*args, "--out", str(tmp_path / "r"))
        assert code == want_code and message in err and "Traceback" not in err, (args, err)
        if want_code == 1:
            assert len([s for s in err.splitlines() if s.startswith("error:")]) == 1


def test_every_command_keeps_its_options():
    """`--help` of every command before the generated commands (tests/data/cli_options_before.json) is a subset of
    today's: no command or option spelling was lost."""
    import typer

    from vantage.cli import app

    before = json.loads(OPTIONS_BEFORE.read_text())
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="vantage")
    for path, options in before.items():
        cmd, sub = root, ctx
        for name in path.split():
            sub = typer.Context(cmd, info_name=name, parent=sub)
            cmd = cmd.get_command(sub, name)
            assert cmd is not None, path
        have = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {f"<{p.name}>" for p in cmd.params}
        assert set(options) <= have, (path, sorted(set(options) - have))


def test_generated_options_come_from_the_config_fields():
    commands = method_commands("train")
    assert {"ssl", "classify", "clip", "ovt", "align", "action"} <= set(commands)
    ssl = {p.name: p for p in commands["ssl"].params}
    assert ssl["traj_weight"].opts == ["--traj-weight"] and "lambda" in ssl["traj_weight"].help  # the field comment
    assert "--3dtrl" in {o for p in commands["classify"].params for o in p.opts}
