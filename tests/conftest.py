"""Shared fixtures: a small real dataset built once per session, and the COIL-20 location."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A built dataset (read-only for tests: copy it before changing it)."""
    root = tmp_path_factory.mktemp("data") / "small"
    result = build_dataset(small_config(), root, workers=2, progress=False)
    assert result.complete
    return root


@pytest.fixture
def coil20() -> Path:
    """The real COIL-20 turntable set; tests that need it skip where it is absent (a user's clone)."""
    if not (COIL20 / "obj1__0.png").is_file():
        pytest.skip(f"COIL-20 not found at {COIL20} (set VANTAGE_COIL20 to its folder)")
    return COIL20


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `vantage` command in a subprocess and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vantage", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
