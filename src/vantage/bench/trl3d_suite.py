"""The 3DTRL suite: a DeiT-like baseline vs +3DTRL (faithful, improved) trained on a restricted view range and
tested on held-out objects at seen views, at unseen poses over the sphere and under perspective warps; plus the
pseudo-depth score and panel."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vantage.bench.runner import BenchContext
from vantage.bench.stats import aggregate_seeds
from vantage.config import config_hash, from_dict, to_dict
from vantage.io import atomic_write_json, sha256_file

__all__ = ["TRLBenchConfig", "run_trl3d_suite", "trl3d_preset_configs"]

VARIANT_NAMES = {"none": "baseline", "faithful": "+3DTRL faithful", "improved": "+3DTRL improved"}


@dataclass
class TRLBenchConfig:
    """Which runs the suite makes (the preset's ``trl3d.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["none", "faithful", "improved"])
    seeds: list[int] = field(default_factory=lambda: [0])
    distortion: float = 0.5
    depth_images: int = 300
    depth_min_foreground: float = 0.5  # a token cell counts if the object covers this much of it
    panel_images: int = 4

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in VARIANT_NAMES]
        if bad or not self.variants:
            raise ValueError(f"variants {bad or self.variants} invalid; choose from {list(VARIANT_NAMES)}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def trl3d_preset_configs(config: dict[str, Any], where: str = "preset") -> tuple[dict[str, Any], TRLBenchConfig]:
    """(train fields, TRLBenchConfig) from a preset's ``trl3d`` section (typed, checked)."""
    from vantage.train.classify import ClassifyTrainConfig

    section = config.get("trl3d", {}) or {}
    train = dict(section.get("train", {}) or {})
    from_dict(ClassifyTrainConfig, train, f"{where}: trl3d.train")
    return train, from_dict(TRLBenchConfig, section.get("bench", {}) or {}, f"{where}: trl3d.bench")


def run_trl3d_suite(ctx: BenchContext) -> dict[str, Any]:
    """Train (or resume) every variant and seed, evaluate (cached by checkpoint), aggregate, plot."""
    from vantage.bench.data_suite import bench_build_config
    from vantage.data import dataset_dir
    from vantage.data.schema import METADATA_FILE
    from vantage.eval.classify import evaluate_classifier, evaluate_pseudo_depth
    from vantage.train import train_seconds
    from vantage.train.classify import ClassifyTrainConfig, load_classifier, train_classify, train_view_filter

    train_fields, bench = trl3d_preset_configs(ctx.config, f"preset {ctx.preset}")
    root = Path(ctx.dataset_root or ctx.data_root or dataset_dir(bench_build_config(ctx)))
    if not (root / "dataset.json").is_file():
        raise FileNotFoundError(f"no built dataset at {root}: run the data suite first (or pass --data)")
    data_hash = sha256_file(root / METADATA_FILE)
    runs: dict[str, Any] = {}
    per_variant: dict[str, list[dict[str, Any]]] = {}
    for seed in bench.seeds:
        for v in bench.variants:
            name = VARIANT_NAMES[v]
            run_dir = ctx.out / "trl3d" / f"{v}-seed{seed}"
            cfg = from_dict(ClassifyTrainConfig, {**train_fields, "trl3d": v, "seed": seed}, name)
            ckpt = train_classify(cfg, root, run_dir, progress=ctx.progress)
            train_s = train_seconds(run_dir)
            key = config_hash({"bench": to_dict(bench), "model": sha256_file(ckpt), "data": data_hash, "v": 1})
            cache = run_dir / "eval.json"
            saved = json.loads(cache.read_text()) if cache.is_file() else {}
            if saved.get("key") != key:
                model, mcfg, classes = load_classifier(ckpt)
                t1 = time.perf_counter()
                ev = evaluate_classifier(
                    model, root, classes, mcfg.image_size, mcfg.train_view_set, train_view_filter(mcfg),
                    bench.distortion, seed,
                )  # fmt: skip
                table: dict[str, Any] = {"top1": ev.top1}
                if v != "none":
                    table["pseudo_depth"] = evaluate_pseudo_depth(
                        model, root, mcfg.image_size, max_images=bench.depth_images,
                        min_foreground=bench.depth_min_foreground,
                    )  # fmt: skip
                saved = {
                    "key": key,
                    "table": table,
                    "per_view": ev.per_view.tolist(),
                    "view_dirs": ev.view_dirs.tolist(),
                    "n": ev.n,
                    "eval_seconds": round(time.perf_counter() - t1, 2),
                }
                atomic_write_json(cache, saved)
            summary = {k: v for k, v in saved.items() if k not in ("per_view", "view_dirs")}  # arrays stay on disk
            runs[f"{name}/seed{seed}"] = {**summary, "train_seconds": train_s}
            per_variant.setdefault(name, []).append(saved["table"])
    agg = {name: aggregate_seeds(tables) for name, tables in per_variant.items()}
    return {
        "ok": True,
        "dataset": str(root),
        "train_config": train_fields,
        "bench_config": to_dict(bench),
        "table": agg,
        "order": list(agg),  # results.json sorts keys; this keeps the table's row order
        "runs": runs,
        "plots": _plots(ctx, bench, root),
    }


def _plots(ctx: BenchContext, bench: TRLBenchConfig, root: Path) -> dict[str, str]:
    from vantage.data import filter_records, load_records
    from vantage.eval.classify import pseudo_depth_maps
    from vantage.eval.features import load_image_bank
    from vantage.report import depth_panel, sphere_value_plot
    from vantage.train.classify import load_classifier

    seed = bench.seeds[0]
    per_view, dirs = {}, None
    for v in bench.variants:
        path = ctx.out / "trl3d" / f"{v}-seed{seed}" / "eval.json"
        if path.is_file():
            saved = json.loads(path.read_text())
            per_view[VARIANT_NAMES[v]] = np.asarray(saved["per_view"])
            dirs = np.asarray(saved["view_dirs"])
    plots: dict[str, str] = {}
    if dirs is not None:
        sphere_value_plot(
            dirs, per_view, ctx.out / "trl3d_sphere.png", f"Top-1 per Fib(100) viewpoint, test objects (seed {seed})"
        )
        plots["sphere"] = "trl3d_sphere.png"
    trl_variants = [v for v in bench.variants if v != "none"]
    if trl_variants and bench.panel_images > 0:
        rows = filter_records(load_records(root), split="test", domain="in", view_set="fib50")
        rows = [r for r in rows if r.depth_file][:: max(1, len(rows) // bench.panel_images)][: bench.panel_images]
        pseudo, size, bank = {}, None, None
        for v in trl_variants:
            ckpt = ctx.out / "trl3d" / f"{v}-seed{seed}" / "checkpoints" / "last.ckpt"
            model, mcfg, classes = load_classifier(ckpt)
            if bank is None:
                size = mcfg.image_size
                bank = load_image_bank(root, rows, size, classes)
            pseudo[VARIANT_NAMES[v]] = pseudo_depth_maps(model, bank.images).numpy()
        rendered = np.stack([np.load(root / r.depth_file) for r in rows])
        depth_panel(
            bank.images.permute(0, 2, 3, 1).numpy(),
            rendered,
            pseudo,
            ctx.out / "trl3d_depth.png",
            "3DTRL pseudo-depth vs rendered depth (brighter = nearer)",
        )
        plots["depth"] = "trl3d_depth.png"
    return plots
