"""Learning curves of a suite's baselines (the variants without a baseline of their own): training loss and the
held-out probes (``probe/<name>``) against steps, read from the runs' CSV logs; one plot per suite, and each
curve's last values for the report's competence table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from vantage.bench.grid import GridResult

__all__ = ["learning_curves", "read_curve"]

MAX_POINTS = 60  # points kept per series in results.json (the plot uses every logged point)


def read_curve(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{"loss": [(step, value)...], "<probe>": [...]}`` from a run's ``logs/version_*/metrics.csv`` (every
    version, so a resumed run's curve is whole; later rows win at a repeated step)."""
    series: dict[str, dict[int, float]] = {}
    versions = sorted((run_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:] or 0))
    for path in versions:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                step = row.get("step")
                if not step:
                    continue
                for key, value in row.items():
                    name = "loss" if key == "train/loss" else key[6:] if key.startswith("probe/") else None
                    if name and value not in (None, ""):
                        v = float(value)
                        if math.isfinite(v):
                            series.setdefault(name, {})[int(step)] = v
    return {k: sorted(v.items()) for k, v in series.items()}


def _thin(points: list[tuple[int, float]]) -> list[list[float]]:
    if len(points) <= MAX_POINTS:
        return [[s, round(v, 4)] for s, v in points]
    idx = sorted({round(i * (len(points) - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
    return [[points[i][0], round(points[i][1], 4)] for i in idx]


def learning_curves(grid: GridResult, out: Path, name: str, chance: float | None = None) -> dict[str, Any]:
    """Plot the baselines' curves (first seed) to ``<out>/<name>_curves.png``; returns ``{"plot", "series",
    "final"}`` (``final``: each baseline's last loss and probe values, mean over seeds) or ``{}`` without logs."""
    series, final = {}, {}
    for v in grid.variants:
        if v.baseline is not None:
            continue
        lasts: dict[str, list[float]] = {}
        for seed in grid.seeds:
            run_dir = grid.run_dirs.get((v.key, seed))
            curve = read_curve(run_dir) if run_dir is not None else {}
            if not curve:
                continue
            if v.key not in series:
                series[v.key] = {k: _thin(p) for k, p in curve.items()}
            for k, p in curve.items():
                lasts.setdefault(k, []).append(p[-1][1])
        if lasts:
            final[v.key] = {k: round(sum(x) / len(x), 4) for k, x in lasts.items()} | {"seeds": len(grid.seeds)}
    if not series:
        return {}
    from vantage.report import learning_curve_plot

    labels = {v.key: v.name for v in grid.variants}
    plot = f"{name}_curves.png"
    learning_curve_plot({labels.get(k, k): s for k, s in series.items()}, out / plot, name, chance)
    return {"plot": plot, "series": series, "final": final}
