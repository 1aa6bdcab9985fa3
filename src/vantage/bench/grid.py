"""The run grid every method suite shares: variants x seeds, train-or-resume, one cached evaluation per run
(keyed by the model, the data and the evaluation settings), mean ± std over seeds, deltas vs a baseline."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vantage.bench.context import BenchContext
from vantage.bench.stats import aggregate_seeds, delta_tree
from vantage.config import config_hash
from vantage.data.schema import METADATA_FILE
from vantage.io import atomic_write_bytes, atomic_write_json, sha256_file

__all__ = [
    "EVAL_ARRAYS",
    "EVAL_FILE",
    "Evaluation",
    "GridResult",
    "Trained",
    "Variant",
    "cached_evaluation",
    "display_view",
    "run_grid",
]

EVAL_FILE = "eval.json"
EVAL_ARRAYS = "eval.npz"


@dataclass(frozen=True)
class Variant:
    """One row of a method's table: its display label (``name``), its stable identity (``key``: the run-folder stem
    and the key of its rows, deltas and claims in results.json), the train fields it sets, and the key of the row
    its deltas are measured against (None: no delta row)."""

    name: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict, hash=False)
    baseline: str | None = None


@dataclass
class Trained:
    """What training one (variant, seed) produced: the artefact to evaluate (a checkpoint, a model folder, or
    None for an untrained model), a hash that identifies it for the evaluation cache, and its typed config."""

    path: Path | None
    ident: str
    config: Any = None


@dataclass
class Evaluation:
    """One evaluation: the JSON table (aggregated over seeds), arrays kept beside it for plots, extra facts."""

    table: dict[str, Any]
    arrays: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


TrainFn = Callable[[Variant, int, Path, dict[str, Trained]], Trained]
EvalFn = Callable[[Variant, int, Trained], Evaluation]


def cached_evaluation(run_dir: Path, key: str, compute: Callable[[], Evaluation]) -> tuple[Evaluation, float]:
    """``(evaluation, seconds)`` from ``<run_dir>/eval.json`` (+ ``eval.npz``) if it was made under ``key``,
    else computed, timed and saved atomically (arrays first, so a kept JSON always has its arrays)."""
    path, arrays_path = run_dir / EVAL_FILE, run_dir / EVAL_ARRAYS
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError:
            saved = {}  # a corrupt cache is recomputed
        if saved.get("key") == key and (not saved.get("has_arrays") or arrays_path.is_file()):
            return Evaluation(saved["table"], {}, saved.get("extra", {})), float(saved.get("seconds", 0.0))
    start = time.perf_counter()
    ev = compute()
    seconds = round(time.perf_counter() - start, 2)
    if ev.arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in ev.arrays.items()})
        atomic_write_bytes(arrays_path, buf.getvalue())
    record = {"key": key, "table": ev.table, "extra": ev.extra, "seconds": seconds, "has_arrays": bool(ev.arrays)}
    atomic_write_json(path, record)
    return ev, seconds


@dataclass
class GridResult:
    """Every (variant, seed) of a suite: tables, timings and run folders."""

    variants: list[Variant]
    seeds: list[int]
    run_dirs: dict[tuple[str, int], Path] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    delta_view: Callable[[dict[str, Any]], dict[str, Any]] = lambda t: t

    def aggregate(self) -> dict[str, Any]:
        """Mean ± std over seeds per variant, in row order."""
        return {v.key: aggregate_seeds(self.tables[v.key]) for v in self.variants if v.key in self.tables}

    def deltas(self) -> dict[str, Any]:
        """Each variant with a baseline minus that baseline, seed by seed, then mean ± std over seeds."""
        out = {}
        for v in self.variants:
            if v.baseline is None or v.baseline not in self.tables or v.key not in self.tables:
                continue
            pairs = zip(self.tables[v.key], self.tables[v.baseline], strict=False)
            out[v.key] = aggregate_seeds([delta_tree(self.delta_view(a), self.delta_view(b)) for a, b in pairs])
        return out

    def arrays(self, key: str, seed: int) -> dict[str, np.ndarray]:
        """The saved evaluation arrays of one run ({} if it has none)."""
        path = self.run_dirs[(key, seed)] / EVAL_ARRAYS
        if not path.is_file():
            return {}
        with np.load(path) as z:
            return {k: z[k] for k in z.files}

    def record(self) -> dict[str, Any]:
        """The generic part of a suite's result: table, row order, deltas and per-run facts, keyed by
        ``Variant.key``; ``labels`` maps each key to its display label."""
        table = self.aggregate()
        labels = {v.key: v.name for v in self.variants if v.key in table}
        return {"table": table, "order": list(table), "labels": labels, "deltas": self.deltas(), "runs": self.runs}


def run_grid(
    ctx: BenchContext,
    variants: Sequence[Variant],
    seeds: Sequence[int],
    train: TrainFn,
    evaluate: EvalFn,
    *,
    folder: str,
    root: Path,
    key: Callable[[Variant, int, Trained], dict[str, Any]] = lambda v, s, t: {},
    delta_view: Callable[[dict[str, Any]], dict[str, Any]] = lambda t: t,
) -> GridResult:
    """For each seed, each variant: ``train`` into ``<out>/<folder>/<variant.key>-seed<seed>`` (resuming), then
    ``evaluate`` once per (trained model, data, ``key``), cached in the run folder."""
    from vantage.train import train_seconds

    data_hash = sha256_file(root / METADATA_FILE)
    grid = GridResult(list(variants), list(seeds), delta_view=delta_view)
    total, start = len(seeds) * len(variants), time.perf_counter()
    for seed in seeds:
        done: dict[str, Trained] = {}
        for v in variants:
            run_dir = ctx.out / folder / f"{v.key}-seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            trained = done[v.key] = train(v, seed, run_dir, done)
            cache_key = config_hash({"model": trained.ident, "data": data_hash, "eval": key(v, seed, trained)})
            ev, seconds = cached_evaluation(run_dir, cache_key, lambda v=v, seed=seed, t=trained: evaluate(v, seed, t))
            grid.run_dirs[(v.key, seed)] = run_dir
            grid.tables.setdefault(v.key, []).append(ev.table)
            grid.runs[f"{v.key}/seed{seed}"] = {
                "table": ev.table,
                **ev.extra,
                "train_seconds": train_seconds(run_dir),
                "eval_seconds": seconds,
            }
            _report_run(folder, len(grid.runs), total, v.name, seed, grid.runs[f"{v.key}/seed{seed}"], start)
    return grid


def _report_run(folder: str, done: int, total: int, name: str, seed: int, run: dict[str, Any], start: float) -> None:
    """One line per finished run on stderr: which, how long, and an ETA for the suite from the runs so far."""
    elapsed = time.perf_counter() - start
    eta = elapsed / done * (total - done)
    print(f"[vantage bench] {folder}: run {done}/{total} {name} seed {seed}: train {run['train_seconds']:.0f} s, "
          f"eval {run['eval_seconds']:.0f} s; suite ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)  # fmt: skip


def display_view(res: dict[str, Any]) -> dict[str, Any]:
    """A suite result with its rows, deltas and runs keyed by display label instead of ``Variant.key`` (what
    presenters show); a result written before keys (no ``labels``) is returned as it is."""
    labels = res.get("labels")
    if not labels:
        return res
    out = dict(res)
    for part in ("table", "deltas"):
        if isinstance(res.get(part), dict):
            out[part] = _relabel(res[part], labels, depth=2 if part == "deltas" else 1)
    out["order"] = [labels.get(k, k) for k in res.get("order", [])]
    runs = res.get("runs", {})
    out["runs"] = {f"{labels.get(k.rsplit('/', 1)[0], k.rsplit('/', 1)[0])}/{k.rsplit('/', 1)[-1]}": v
                   for k, v in runs.items()}  # fmt: skip
    return out


def _relabel(tree: dict[str, Any], labels: dict[str, str], depth: int) -> dict[str, Any]:
    """``tree`` with its variant keys replaced by their labels in the top ``depth`` levels (deltas may group
    variants one level down)."""
    if depth == 0:
        return tree
    return {labels.get(k, k): (_relabel(v, labels, depth - 1) if isinstance(v, dict) else v) for k, v in tree.items()}
