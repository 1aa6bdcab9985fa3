"""The pose-aware SSL suite: each SSL method with and without the trajectory loss, the supervised baseline and
an untrained encoder, trained on the preset's data and scored by the semantic + pose benchmark, per seed."""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.bench.runner import BenchContext
from vantage.bench.stats import aggregate_seeds
from vantage.config import config_hash, from_dict, to_dict
from vantage.eval.metrics import POSE_METRICS, lookup
from vantage.io import atomic_write_bytes, atomic_write_json, sha256_file

__all__ = ["PoseSSLBenchConfig", "Variant", "run_pose_ssl_suite", "ssl_preset_configs", "variants"]


@dataclass
class PoseSSLBenchConfig:
    """Which runs the suite makes (the preset's ``ssl.bench`` section)."""

    methods: list[str] = field(default_factory=lambda: ["vicreg", "simclr", "simsiam"])
    traj_weights: list[float] = field(default_factory=lambda: [0.1])  # one "+traj" row per weight (a sweep)
    supervised: bool = True
    random_init: bool = True
    seeds: list[int] = field(default_factory=lambda: [0])
    plot_tap: str = "conv3"

    def __post_init__(self) -> None:
        from vantage.losses import SSL_METHODS

        bad = [m for m in self.methods if m not in SSL_METHODS or m == "supervised"]
        if bad:
            raise ValueError(f"methods {bad} unknown; choose from {[m for m in SSL_METHODS if m != 'supervised']}")
        if not self.traj_weights or min(self.traj_weights) <= 0:
            raise ValueError(f"traj_weights must be > 0 (runs without the loss are made anyway): {self.traj_weights}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


@dataclass(frozen=True)
class Variant:
    """One row of the table: a training method (None: untrained encoder) and its trajectory-loss weight."""

    name: str
    method: str | None
    traj_weight: float = 0.0


def variants(cfg: PoseSSLBenchConfig) -> list[Variant]:
    """The suite's rows in table order."""
    rows = []
    for m in cfg.methods:
        rows += [Variant(m, m), *(Variant(f"{m}+traj{w:g}", m, w) for w in cfg.traj_weights)]
    if cfg.supervised:
        rows.append(Variant("supervised", "supervised"))
    if cfg.random_init:
        rows.append(Variant("random-init", None))
    return rows


def ssl_preset_configs(config: dict[str, Any], where: str = "preset") -> tuple[dict[str, Any], Any, PoseSSLBenchConfig]:
    """(train fields, PoseEvalConfig, PoseSSLBenchConfig) from a preset's ``ssl`` section (typed, checked)."""
    from vantage.eval import PoseEvalConfig
    from vantage.train import SSLTrainConfig

    section = config.get("ssl", {}) or {}
    train = dict(section.get("train", {}) or {})
    from_dict(SSLTrainConfig, train, f"{where}: ssl.train")  # validate now, fill per run later
    return (
        train,
        from_dict(PoseEvalConfig, section.get("eval", {}) or {}, f"{where}: ssl.eval"),
        from_dict(PoseSSLBenchConfig, section.get("bench", {}) or {}, f"{where}: ssl.bench"),
    )


def _save_eval(run_dir: Path, key: str, result: Any) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **result.arrays)
    atomic_write_bytes(run_dir / "pose_eval.npz", buf.getvalue())
    atomic_write_json(run_dir / "pose_eval.json", {"key": key, "table": result.table, "seconds": result.seconds})


def _cached_eval(run_dir: Path, key: str) -> tuple[dict[str, Any], dict[str, float]] | None:
    path = run_dir / "pose_eval.json"
    if not (path.is_file() and (run_dir / "pose_eval.npz").is_file()):
        return None
    saved = json.loads(path.read_text())
    return (saved["table"], saved["seconds"]) if saved.get("key") == key else None


def run_pose_ssl_suite(ctx: BenchContext) -> dict[str, Any]:
    """Train (or resume) every variant and seed, evaluate each once (cached by checkpoint and config),
    aggregate mean +- std over seeds, and draw the per-viewpoint and error-histogram plots."""
    from vantage.bench.data_suite import bench_build_config
    from vantage.data import dataset_dir
    from vantage.data.schema import METADATA_FILE
    from vantage.eval import evaluate_pose_ssl, load_pose_eval_data
    from vantage.train import SSLTrainConfig, build_backbone, load_ssl_extractor, train_seconds, train_ssl

    train_fields, eval_cfg, bench_cfg = ssl_preset_configs(ctx.config, f"preset {ctx.preset}")
    root = ctx.dataset_root or ctx.data_root or dataset_dir(bench_build_config(ctx))
    if not (Path(root) / "dataset.json").is_file():
        raise FileNotFoundError(f"no built dataset at {root}: run the data suite first (or pass --data)")
    data_hash = sha256_file(root / METADATA_FILE)
    coil20 = ctx.coil20 if ctx.coil20 is not None and Path(ctx.coil20).is_dir() else None
    eval_data = None
    runs: dict[str, Any] = {}
    per_variant: dict[str, list[dict[str, Any]]] = {}
    for seed in bench_cfg.seeds:
        for v in variants(bench_cfg):
            run_dir = ctx.out / "pose_ssl" / f"{v.name}-seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            fields = {**train_fields, "method": v.method or "vicreg", "traj_weight": v.traj_weight, "seed": seed}
            cfg = from_dict(SSLTrainConfig, fields, f"{v.name}")
            if v.method is not None:
                ckpt = train_ssl(cfg, root, run_dir, progress=ctx.progress)
                ident = sha256_file(ckpt)
            else:
                ckpt, ident = None, f"random-init:{config_hash(fields)}"
            train_s = train_seconds(run_dir)
            ecfg = dataclasses.replace(eval_cfg, seed=seed)
            key = config_hash({"eval": to_dict(ecfg), "model": ident, "data": data_hash, "coil20": str(coil20)})
            cached = _cached_eval(run_dir, key)
            if cached is None:
                if ckpt is not None:
                    extractor, _ = load_ssl_extractor(ckpt)
                else:
                    from vantage.models import FeatureExtractor

                    torch.manual_seed(seed)
                    extractor = FeatureExtractor(build_backbone(cfg)).eval()
                if eval_data is None:
                    eval_data = load_pose_eval_data(root, eval_cfg, coil20)
                result = evaluate_pose_ssl(extractor, eval_data, ecfg, progress=ctx.progress)
                _save_eval(run_dir, key, result)
                cached = (result.table, result.seconds)
            table, seconds = cached
            runs[f"{v.name}/seed{seed}"] = {"table": table, "eval_seconds": seconds, "train_seconds": train_s}
            per_variant.setdefault(v.name, []).append(table)
    agg = {name: aggregate_seeds(tables) for name, tables in per_variant.items()}
    plots = _plots(ctx, bench_cfg, eval_cfg)
    return {
        "ok": True,
        "dataset": str(root),
        "coil20": str(coil20) if coil20 else "absent",
        "train_config": train_fields,
        "eval_config": to_dict(eval_cfg),
        "bench_config": to_dict(bench_cfg),
        "taps": list(eval_cfg.taps),
        "table": agg,
        "order": list(agg),  # results.json sorts keys; this keeps the table's row order
        "deltas": _deltas(agg, bench_cfg, eval_cfg.taps),
        "runs": runs,
        "plots": plots,
    }


def _mean(agg: dict[str, Any], path: str) -> float | None:
    node = lookup(agg, path)
    return node.get("mean") if isinstance(node, dict) else None


def _deltas(agg: dict[str, Any], cfg: PoseSSLBenchConfig, taps: list[str]) -> dict[str, Any]:
    """The two claims as numbers: each +traj row minus its plain method, and each mid-layer tap minus pooled."""
    traj: dict[str, Any] = {}
    for m in cfg.methods:
        for w in cfg.traj_weights:
            name = f"{m}+traj{w:g}"
            if m in agg and name in agg:
                traj[name] = {
                    tap: {
                        label: round(b - a, 2)
                        for label, path in POSE_METRICS.items()
                        if (a := _mean(agg[m], f"{tap}/{path}")) is not None
                        and (b := _mean(agg[name], f"{tap}/{path}")) is not None
                    }
                    for tap in taps
                }
    mid: dict[str, Any] = {}
    for name, table in agg.items():
        mid[name] = {
            tap: {
                label: round(b - a, 2)
                for label, path in POSE_METRICS.items()
                if (a := _mean(table, f"pooled/{path}")) is not None
                and (b := _mean(table, f"{tap}/{path}")) is not None
            }
            for tap in taps
            if tap != "pooled" and "pooled" in taps
        }
    return {"traj_minus_plain": traj, "tap_minus_pooled": mid}


def _plots(ctx: BenchContext, cfg: PoseSSLBenchConfig, eval_cfg: Any) -> dict[str, str]:
    """Per-viewpoint absolute-pose accuracy on the sphere and error histograms (first seed, ``plot_tap``)."""
    from vantage.report import error_histograms, sphere_value_plot

    tap = cfg.plot_tap if cfg.plot_tap in eval_cfg.taps else eval_cfg.taps[0]
    seed = cfg.seeds[0]
    per_view: dict[str, np.ndarray] = {}
    errors: dict[str, dict[str, np.ndarray]] = {"in-domain (Fib50)": {}, "unseen poses (Fib100)": {}}
    dirs = None
    for v in variants(cfg):
        path = ctx.out / "pose_ssl" / f"{v.name}-seed{seed}" / "pose_eval.npz"
        if not path.is_file():
            continue
        with np.load(path) as z:
            dirs = z["view_dirs"]
            per_view[v.name] = z[f"{tap}/in_domain/per_view_top1"]
            errors["in-domain (Fib50)"][v.name] = z[f"{tap}/in_domain/errors_deg"]
            if f"{tap}/unseen_poses/errors_deg" in z:
                errors["unseen poses (Fib100)"][v.name] = z[f"{tap}/unseen_poses/errors_deg"]
    if dirs is None:
        return {}
    errors = {k: v for k, v in errors.items() if v}
    sphere_value_plot(
        dirs,
        per_view,
        ctx.out / "pose_ssl_sphere.png",
        f"Absolute-pose kNN top-1 per Fib(50) viewpoint, test objects ({tap}, seed {seed})",
    )
    error_histograms(errors, ctx.out / "pose_ssl_errors.png", f"Absolute-pose geodesic errors ({tap}, seed {seed})")
    return {"sphere": "pose_ssl_sphere.png", "errors": "pose_ssl_errors.png", "tap": tap}
