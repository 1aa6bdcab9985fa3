"""Shared fixtures: a small real dataset and a small rendered turntable folder (COIL style), built once per
session; the location of the real COIL-20 set, used as an extra where it exists."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vantage.data import BuildConfig, build_dataset
from vantage.data.views import ViewSetConfig

COIL20 = Path(os.environ.get("VANTAGE_COIL20", Path(__file__).resolve().parents[2] / "shared" / "data" / "coil20"))


def small_config(**changes) -> BuildConfig:
    """3 in-domain categories x 3 objects (1/1/1 split) + 2 out-of-domain x 1, at 32 px."""
    base = dict(
        name="small",
        image_size=32,
        in_domain=["airplane", "car", "chair"],
        out_of_domain=["mug", "guitar"],
        objects_per_category=3,
        objects_per_ood_category=1,
        view_sets={
            "fib50": ViewSetConfig("fibonacci", 50),
            "fib100": ViewSetConfig("fibonacci", 100),
            "triplet": ViewSetConfig("triplet", 3, step_deg=10.0),
            "canonical": ViewSetConfig("canonical", 3),
        },
        mask=["test"],  # out-of-domain objects get depth only, so both mask paths are exercised
    )
    base.update(changes)
    return BuildConfig(**base)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Point $VANTAGE_HOME at a folder of this session (of this worker, under xdist), so tests never touch the
    user's cache and parallel workers never share one."""
    old = os.environ.get("VANTAGE_HOME")
    os.environ["VANTAGE_HOME"] = str(tmp_path_factory.mktemp("vantage-home"))
    yield
    if old is None:
        os.environ.pop("VANTAGE_HOME", None)
    else:
        os.environ["VANTAGE_HOME"] = old


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A built dataset (read-only for tests: copy it before changing it)."""
    root = tmp_path_factory.mktemp("data") / "small"
    result = build_dataset(small_config(), root, workers=2, progress=False)
    assert result.complete
    return root


TURNTABLE_OBJECTS, TURNTABLE_POSES = 6, 12


@pytest.fixture(scope="session")
def turntable(tmp_path_factory) -> Path:
    """A COIL-style folder rendered here: 6 objects x 12 azimuths (30 degrees apart, elevation 10), 32 px,
    named ``obj<k>__<pose>.png`` (k from 1), so the real-data code paths run in any clone."""
    from vantage.data.samples import render_turntable

    root = render_turntable(tmp_path_factory.mktemp("turntable"), TURNTABLE_OBJECTS, TURNTABLE_POSES, 32, 10.0)
    return root


@pytest.fixture
def real_turntables(turntable) -> list[Path]:
    """The rendered turntable folder, plus the real COIL-20 set where it exists (an extra, never a condition)."""
    return [turntable, *([COIL20] if (COIL20 / "obj1__0.png").is_file() else [])]


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 300, fresh_process: bool = False
) -> subprocess.CompletedProcess:
    """Run the real `vantage` command and capture its output: through ``vantage.cli.main`` (its catch-all
    included) in this process, with ``env`` set for the call, or, with ``fresh_process``, as ``python -m vantage``
    in a new process (for DDP, which starts further processes, and for the real entry point; ``timeout`` applies
    there). In-process calls skip an interpreter start with torch, Lightning and timm imports, 10-20 s each on a
    2-core machine."""
    if fresh_process:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "vantage", *args], capture_output=True, text=True, env=full_env, timeout=timeout
        )
    from vantage import cli

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.update(env or {})
    sys.argv = ["vantage", *args]
    cli._STATE["debug"] = False
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return subprocess.CompletedProcess(["vantage", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def vantage_main():
    """``vantage_main(*args) -> (exit code, stdout, stderr)``: :func:`run_cli` in this process, as a fixture."""

    def run(*args: str) -> tuple[int, str, str]:
        res = run_cli(*args)
        return res.returncode, res.stdout, res.stderr

    return run
