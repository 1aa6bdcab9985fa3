"""The Omniview-Tuning suite: per seed, a base CLIP trained on near-front views only, then OVT faithful, OVT
improved, LoRA-only and full fine-tuning from it, each scored by the zero-shot viewpoint benchmark (clean,
2D-shifted, viewpoint-shifted and real data); mean ± std over seeds, deltas vs the base, sphere plots."""

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

__all__ = ["OVTBenchConfig", "ovt_preset_configs", "run_ovt_suite"]


@dataclass
class OVTBenchConfig:
    """Which runs the suite makes (the preset's ``ovt.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["faithful", "improved", "lora_only", "full_ft"])
    seeds: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        from vantage.train.clip import CLIP_VARIANTS

        bad = [v for v in self.variants if v not in CLIP_VARIANTS[1:]]
        if bad:
            raise ValueError(f"variants {bad} unknown; choose from {list(CLIP_VARIANTS[1:])}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def ovt_preset_configs(config: dict[str, Any], where: str = "preset") -> tuple[dict, dict, Any, OVTBenchConfig]:
    """(base-CLIP fields, OVT fields, ZeroShotConfig, OVTBenchConfig) from a preset's ``ovt`` section (checked)."""
    from vantage.eval.zeroshot import ZeroShotConfig
    from vantage.train.clip import ClipTrainConfig, OVTTrainConfig

    section = config.get("ovt", {}) or {}
    base = dict(section.get("base", {}) or {})
    tune = dict(section.get("train", {}) or {})
    from_dict(ClipTrainConfig, base, f"{where}: ovt.base")
    from_dict(OVTTrainConfig, tune, f"{where}: ovt.train")
    return (
        base,
        tune,
        from_dict(ZeroShotConfig, section.get("eval", {}) or {}, f"{where}: ovt.eval"),
        from_dict(OVTBenchConfig, section.get("bench", {}) or {}, f"{where}: ovt.bench"),
    )


def _evaluate(model_dir: Path, key: str, data: Any, zs_cfg: Any, progress: bool) -> dict[str, Any]:
    """The zero-shot result of a saved model, cached in ``<run>/zeroshot.json`` under ``key``."""
    from vantage.eval.zeroshot import zeroshot_benchmark
    from vantage.models.clip import get_clip_tokenizer, load_clip

    path = model_dir.parent / "zeroshot.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["result"]
    model, _ = load_clip(str(model_dir))
    t0 = time.perf_counter()
    result = zeroshot_benchmark(model, get_clip_tokenizer(str(model_dir)), data, zs_cfg)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    atomic_write_json(path, {"key": key, "result": result})
    return result


def run_ovt_suite(ctx: BenchContext) -> dict[str, Any]:
    """Train (or resume) the base and every variant per seed, evaluate each once (cached by weights and
    config), aggregate over seeds, and plot per-viewpoint accuracy on the sphere."""
    from vantage.bench.data_suite import bench_build_config
    from vantage.data import dataset_dir
    from vantage.data.schema import METADATA_FILE
    from vantage.eval.zeroshot import load_zeroshot_data
    from vantage.train import train_seconds
    from vantage.train.clip import ClipTrainConfig, OVTTrainConfig, train_clip, train_ovt

    base_fields, tune_fields, zs_cfg, bench = ovt_preset_configs(ctx.config, f"preset {ctx.preset}")
    root = Path(ctx.dataset_root or ctx.data_root or dataset_dir(bench_build_config(ctx)))
    if not (root / "dataset.json").is_file():
        raise FileNotFoundError(f"no built dataset at {root}: run the data suite first (or pass --data)")
    coil20 = ctx.coil20 if ctx.coil20 is not None and Path(ctx.coil20).is_dir() else None
    data_hash = sha256_file(root / METADATA_FILE)
    data = None
    runs: dict[str, Any] = {}
    per_variant: dict[str, list[dict[str, Any]]] = {}
    per_view: dict[str, list[float]] = {}
    view_dirs = None
    for seed in bench.seeds:
        base_cfg = from_dict(ClipTrainConfig, {**base_fields, "seed": seed}, "ovt.base")
        jobs: list[tuple[str, Any]] = [("base", base_cfg)]
        for v in bench.variants:
            jobs.append((v, {**tune_fields, "variant": v, "seed": seed}))
        base_dir = None
        for name, cfg in jobs:
            run = ctx.out / "ovt" / f"{name}-seed{seed}"
            if name == "base":
                model_dir = base_dir = train_clip(cfg, root, run, progress=ctx.progress)
            else:
                cfg = from_dict(OVTTrainConfig, {**cfg, "base": str(base_dir)}, f"ovt.train ({name})")
                model_dir = train_ovt(cfg, root, run, progress=ctx.progress)
            train_s = train_seconds(run)
            if data is None:
                size = json.loads((model_dir / "open_clip_config.json").read_text())["model_cfg"]["vision_cfg"]
                data = load_zeroshot_data(root, size["image_size"], zs_cfg, coil20)
            key = config_hash({"eval": to_dict(zs_cfg), "model": sha256_file(model_dir / "open_clip_pytorch_model.bin"),
                               "head": _head_hash(model_dir), "data": data_hash, "coil20": str(coil20)})  # fmt: skip
            result = _evaluate(model_dir, key, data, zs_cfg, ctx.progress)
            runs[f"{name}/seed{seed}"] = {"sets": result["sets"], "groups": result["groups"],
                                          "train_seconds": train_s, "eval_seconds": result.get("seconds")}  # fmt: skip
            per_variant.setdefault(name, []).append({"sets": result["sets"], "groups": result["groups"]})
            if seed == bench.seeds[0]:
                per_view[name], view_dirs = result["per_view"], result["view_dirs"]
    table = {name: aggregate_seeds(rows) for name, rows in per_variant.items()}
    plots = _plots(ctx, per_view, view_dirs, bench.seeds[0])
    return {
        "ok": True,
        "dataset": str(root),
        "coil20": str(coil20) if coil20 else "absent",
        "base_config": base_fields,
        "train_config": tune_fields,
        "eval_config": to_dict(zs_cfg),
        "bench_config": to_dict(bench),
        "table": table,
        "order": list(table),
        "deltas": _deltas(per_variant),
        "runs": runs,
        "plots": plots,
    }


def _head_hash(model_dir: Path) -> str | None:
    head = model_dir / "vantage_ovt.pt"
    return sha256_file(head) if head.is_file() else None


def _deltas(per_variant: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each variant minus the base of the same seed (top-1 per set and group), mean ± std over seeds."""
    base = per_variant.get("base", [])
    out = {}
    for name, rows in per_variant.items():
        if name == "base":
            continue
        diffs = []
        for row, ref in zip(rows, base, strict=False):
            diffs.append({
                "sets": {s: row["sets"][s]["top1"] - ref["sets"][s]["top1"] for s in row["sets"] if s in ref["sets"]},
                "groups": {g: row["groups"][g] - ref["groups"][g] for g in row["groups"] if g in ref["groups"]},
            })  # fmt: skip
        out[name] = aggregate_seeds(diffs)
    return out


def _plots(ctx: BenchContext, per_view: dict[str, list[float]], dirs: Any, seed: int) -> dict[str, str]:
    """Zero-shot top-1 per Fib(100) viewpoint on the sphere, base and each variant (first seed)."""
    from vantage.report import sphere_value_plot

    if not per_view or dirs is None:
        return {}
    sphere_value_plot(
        np.asarray(dirs),
        {k: np.asarray(v) for k, v in per_view.items()},
        ctx.out / "ovt_sphere.png",
        f"Zero-shot top-1 per unseen viewpoint (Fib(100)), held-out objects (seed {seed})",
    )
    return {"sphere": "ovt_sphere.png"}
