"""`vantage bench`: run a preset's suites, record results.json, render the report."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vantage import __version__
from vantage.config import ConfigError, load_preset, set_override
from vantage.io import atomic_write_json

__all__ = ["SUITES", "BenchContext", "default_coil20", "machine_info", "run_bench"]


@dataclass
class BenchContext:
    """What every suite gets: the preset, where to write, shared inputs, and earlier suites' results."""

    preset: str
    config: dict[str, Any]
    out: Path
    overrides: Sequence[str] = ()
    data_root: Path | None = None
    coil20: Path | None = None
    workers: int | None = None
    progress: bool = True
    dataset_root: Path | None = None  # set by the data suite for the suites after it
    results: dict[str, Any] = field(default_factory=dict)


Suite = Callable[[BenchContext], dict[str, Any]]


def _data_suite(ctx: BenchContext) -> dict[str, Any]:
    from vantage.bench.data_suite import run_data_suite

    return run_data_suite(ctx)


def _pose_ssl_suite(ctx: BenchContext) -> dict[str, Any]:
    from vantage.bench.pose_ssl_suite import run_pose_ssl_suite

    return run_pose_ssl_suite(ctx)


def _trl3d_suite(ctx: BenchContext) -> dict[str, Any]:
    from vantage.bench.trl3d_suite import run_trl3d_suite

    return run_trl3d_suite(ctx)


def _ovt_suite(ctx: BenchContext) -> dict[str, Any]:
    from vantage.bench.ovt_suite import run_ovt_suite

    return run_ovt_suite(ctx)


SUITES: dict[str, Suite] = {
    "data": _data_suite,
    "pose_ssl": _pose_ssl_suite,
    "trl3d": _trl3d_suite,
    "ovt": _ovt_suite,
}


def check_bench_config(config: dict[str, Any], names: Sequence[str], where: str) -> None:
    """Parse every section the chosen suites read, so a bad value fails before any suite runs."""
    from vantage.bench.pose_ssl_suite import ssl_preset_configs
    from vantage.bench.trl3d_suite import trl3d_preset_configs
    from vantage.config import from_dict
    from vantage.data import BuildConfig

    from_dict(BuildConfig, config.get("data", {}) or {}, f"{where}: data")
    if "pose_ssl" in names:
        ssl_preset_configs(config, where)
    if "trl3d" in names:
        trl3d_preset_configs(config, where)
    if "ovt" in names:
        from vantage.bench.ovt_suite import ovt_preset_configs

        ovt_preset_configs(config, where)


def default_coil20() -> Path | None:
    """COIL-20 location: ``$VANTAGE_COIL20``, else ``../shared/data/coil20`` if it exists, else None."""
    env = os.environ.get("VANTAGE_COIL20")
    if env:
        return Path(env)
    candidate = Path("../shared/data/coil20")
    return candidate.resolve() if candidate.is_dir() else None


def machine_info() -> dict[str, Any]:
    """Facts about the machine and software a result was measured on."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "vantage": __version__,
    }


def run_bench(
    preset: str = "default",
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    data_root: str | Path | None = None,
    coil20: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    suites: Sequence[str] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run the preset's suites in order; write ``results.json`` and ``report.html`` under ``out``.

    ``overrides`` are ``section.key=value`` assignments over the whole preset (``data.image_size=32``,
    ``ssl.bench.seeds=[0,1,2]``).
    """
    from vantage.report import write_report

    config = load_preset(preset)
    for o in overrides:  # section.key=value over the whole preset, e.g. data.image_size=32, ssl.bench.seeds=[0,1]
        set_override(config, o)
    names = list(suites or config.get("bench", {}).get("suites", ["data"]))
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise ConfigError(f"preset {preset}: unknown bench suite(s) {unknown}; available: {sorted(SUITES)}")
    check_bench_config(config, names, f"preset {preset}")
    out = Path(out) if out is not None else Path("runs") / f"bench-{Path(str(preset)).stem}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"bench output path {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(
        preset=str(preset),
        config=config,
        out=out,
        overrides=overrides,
        data_root=Path(data_root) if data_root else None,
        coil20=Path(coil20) if coil20 else default_coil20(),
        workers=workers,
        progress=progress,
    )
    results: dict[str, Any] = {
        "preset": str(preset),
        "overrides": list(overrides),
        "command": " ".join(["vantage", *sys.argv[1:]]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "suites": {},
    }
    failed = False
    for name in names:
        start = time.perf_counter()
        try:
            res = SUITES[name](ctx)
        except Exception as e:  # recorded in results and the report; the CLI exits non-zero
            res = {"error": f"{type(e).__name__}: {e}"}
        res["seconds"] = round(time.perf_counter() - start, 2)
        failed |= bool(res.get("error")) or not res.get("ok", True)
        ctx.results[name] = results["suites"][name] = res
        atomic_write_json(out / "results.json", results)
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    results["status"] = "failed" if failed else "ok"
    atomic_write_json(out / "results.json", results)
    write_report(out)
    return out, json.loads((out / "results.json").read_text())
