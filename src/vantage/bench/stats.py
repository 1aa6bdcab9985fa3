"""Mean and standard deviation over seeds of nested result tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["aggregate_seeds", "delta_tree"]


def aggregate_seeds(tables: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Nested dicts of numbers (one per seed) -> the same tree with ``{"mean", "std", "n"}`` leaves (sample
    std, ddof 1; 0 for one seed). Keys missing from some seeds are aggregated over the seeds that have them;
    non-numeric leaves (e.g. a "skipped" reason) are kept from the first seed."""
    keys: dict[str, None] = {}
    for t in tables:
        keys.update(dict.fromkeys(t))
    out: dict[str, Any] = {}
    for k in keys:
        vals = [t[k] for t in tables if k in t]
        if all(isinstance(v, dict) for v in vals):
            out[k] = aggregate_seeds(vals)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            arr = np.asarray(vals, dtype=float)
            std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
            out[k] = {"mean": round(float(arr.mean()), 4), "std": round(std, 4), "n": len(arr)}
        else:
            out[k] = vals[0]
    return out


def delta_tree(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a - b`` on the numeric leaves the two nested dicts share (other leaves and keys are dropped)."""
    out: dict[str, Any] = {}
    for k, va in a.items():
        vb = b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            if sub := delta_tree(va, vb):
                out[k] = sub
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb)):
            out[k] = va - vb
    return out
