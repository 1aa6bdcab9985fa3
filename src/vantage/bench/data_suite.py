"""The data suite: build (or reuse) the preset's dataset, verify it, summarise it, draw it."""

from __future__ import annotations

from typing import Any

import numpy as np

from vantage.bench.runner import BenchContext
from vantage.config import from_dict
from vantage.data import (
    BuildConfig,
    DatasetError,
    build_dataset,
    contact_sheet,
    dataset_dir,
    load_records,
    load_turntable_records,
    summarize,
    verify_dataset,
)
from vantage.geometry import spherical_to_cartesian
from vantage.report import view_sphere_plot

__all__ = ["bench_build_config", "run_data_suite"]


def _directions(records) -> np.ndarray:
    return np.stack([spherical_to_cartesian(r.azimuth_deg, r.elevation_deg or 0.0) for r in records])


def _view_sphere(ctx: BenchContext, root) -> str:
    rows = load_records(root)
    train = next((r.object_id for r in rows if r.split == "train" and r.view_set == "triplet"), rows[0].object_id)
    sets: dict[str, np.ndarray] = {}
    for name in ("fib50", "fib100"):
        first = next((r.object_id for r in rows if r.view_set == name), None)
        if first is not None:
            sets[name] = _directions([r for r in rows if r.view_set == name and r.object_id == first])
    canon = [r for r in rows if r.view_set == "canonical" and r.object_id == train]
    if canon:
        sets["canonical (one object)"] = _directions(canon)
    trip = sorted(
        (r for r in rows if r.view_set == "triplet" and r.object_id == train),
        key=lambda r: (r.triplet_id, "LCR".index(r.triplet_pos)),
    )
    triplets = _directions(trip).reshape(-1, 3, 3) if trip else None
    if triplets is not None:
        sets["triplet centres (one object)"] = triplets[:, 1]
    view_sphere_plot(sets, ctx.out / "view_sphere.png", triplets, title="View sets (camera directions)")
    return "view_sphere.png"


def _coil20(ctx: BenchContext) -> dict[str, Any]:
    if ctx.coil20 is None:
        return {
            "status": "absent",
            "reason": "no path given and ../shared/data/coil20 not found (set --coil20 or VANTAGE_COIL20)",
        }
    try:
        recs = load_turntable_records(ctx.coil20)
    except DatasetError as e:
        return {"status": "unreadable", "reason": str(e)}
    objects = sorted({r.object_id for r in recs})
    return {
        "status": "ok",
        "path": str(ctx.coil20),
        "images": len(recs),
        "objects": len(objects),
        "poses_per_object": len(recs) // max(1, len(objects)),
    }


def bench_build_config(ctx: BenchContext) -> BuildConfig:
    """The dataset config of a bench run: the preset's ``data`` section with the run's overrides applied."""
    return from_dict(BuildConfig, ctx.config.get("data", {}) or {}, f"preset {ctx.preset}: data")


def run_data_suite(ctx: BenchContext) -> dict[str, Any]:
    """Build or reuse, verify, summarise; contact sheet and view-sphere plot into the run folder."""
    cfg = bench_build_config(ctx)
    root = ctx.data_root or dataset_dir(cfg)
    built = build_dataset(cfg, root, workers=ctx.workers, progress=ctx.progress)
    problems = verify_dataset(root)
    ctx.dataset_root = root
    return {
        "ok": not problems,
        "dataset": summarize(root),
        "build": {
            "seconds": round(built.seconds, 2),
            "rendered": built.rendered,
            "skipped": built.skipped,
            "images_per_second": round(built.rendered / built.seconds, 1) if built.rendered else None,
        },
        "verify": {"problems": len(problems), "first": [str(p) for p in problems[:20]]},
        "contact_sheet": contact_sheet(cfg, ctx.out / "contact_sheet.png", instances=2, size=64).name,
        "view_sphere": _view_sphere(ctx, root),
        "coil20": _coil20(ctx),
    }
