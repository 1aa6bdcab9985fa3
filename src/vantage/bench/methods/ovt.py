"""Omniview-Tuning plug-in: per seed, a base CLIP trained on near-front views only, then OVT faithful, OVT
improved, LoRA-only and full fine-tuning from it, each scored by the zero-shot viewpoint benchmark (clean,
2D-shifted, viewpoint-shifted and real data); mean ± std over seeds, deltas vs the base, sphere plots."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant
from vantage.bench.output import REAL_SET_OPTIONS, real_sets
from vantage.bench.plugin import EvalCommand, MethodPlugin, Option, Settings, TrainCommand, register_method
from vantage.config import config_hash, to_dict
from vantage.eval.zeroshot import ZEROSHOT_COLUMNS, ZeroShotConfig, zeroshot_table_rows
from vantage.io import sha256_file
from vantage.report import Figure, KeyValues, Section, Table, Text, fmt_mean_std
from vantage.train.clip import CLIP_VARIANTS, ClipTrainConfig, OVTTrainConfig, train_clip, train_ovt

__all__ = ["OVTBenchConfig", "OVTMethod"]


@dataclass
class OVTBenchConfig:
    """Which runs the suite makes (the preset's ``ovt.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["faithful", "improved", "lora_only", "full_ft"])
    seeds: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in CLIP_VARIANTS[1:]]
        if bad:
            raise ValueError(f"variants {bad} unknown; choose from {list(CLIP_VARIANTS[1:])}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def _model_ident(model_dir: Path) -> str:
    head = model_dir / "vantage_ovt.pt"
    return config_hash({"weights": sha256_file(model_dir / "open_clip_pytorch_model.bin"),
                        "head": sha256_file(head) if head.is_file() else None})  # fmt: skip


@register_method
class OVTMethod(MethodPlugin):
    """Viewpoint-invariant CLIP fine-tuning (Omniview-Tuning) and its zero-shot benchmark."""

    name = "ovt"
    title = "Omniview-Tuning: zero-shot under viewpoint shift"
    section = "ovt"
    parts: ClassVar[dict[str, type]] = {
        "base": ClipTrainConfig,
        "train": OVTTrainConfig,
        "eval": ZeroShotConfig,
        "bench": OVTBenchConfig,
    }
    claims = (
        Claim("OVT faithful: zero-shot top-1 under viewpoint shift", ("faithful", "groups", "viewpoint"),
              "+9.6 (B/32, viewpoint-OOD average)", competence=("table", "base", "groups", "clean"),
              chance="chance_top1"),
        Claim("OVT faithful: zero-shot top-1 under 2D shift", ("faithful", "groups", "2d_shift"),
              "-2.6 (B/32, 2D-OOD average)", increase=False, competence=("table", "base", "groups", "clean"),
              chance="chance_top1"),
    )  # fmt: skip
    train_commands = (
        TrainCommand("ovt", train_ovt, run_name="{variant}-seed{seed}", prints="model",
                     help="Omniview-Tuning: LoRA + VIFormer with the minimax cross-viewpoint alignment (settings: the "
                     "preset's ovt.train, then these options); exports <out>/model.",
                     data_help="A built dataset or an MVCap metadata.json (multi-view).",
                     extras=(Option("clean", Path | None, None, "MVCap metadata.json of clean pairs (default: the "
                                    "dataset's canonical views)."),)),
        TrainCommand("clip", train_clip, part="base", run_name="base-seed{seed}", prints="model",
                     help="Train a base CLIP on image-caption pairs (by default the near-front canonical views only, "
                     "so that it has the viewpoint bias OVT is meant to fix); exports an open_clip folder "
                     "<out>/model.", data_help="A built dataset or an MVCap metadata.json."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("zeroshot", help="Zero-shot top-1/top-5 on held-out objects: clean, 2D-shifted, unseen poses, "
                    "worst view; cross-azimuth retrieval on COIL-20 and every --real set.", extras=(
            Option("model", str, ..., "A saved folder (vantage train clip/ovt), open_clip name or config."),
            Option("pretrained", str | None, None, "With an open_clip name: tag or checkpoint file."),
            Option("image_size", int | None, None, "Evaluate at this input size.", ("--image-size",)),
            *REAL_SET_OPTIONS)),
    )  # fmt: skip

    def variants(self, s: Settings) -> list[Variant]:
        return [Variant("base", "base"), *(Variant(v, v, {"variant": v}, baseline="base") for v in s["bench"].variants)]

    def train(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, run_dir: Path, root: Path,
              done: dict[str, Trained]) -> Trained:  # fmt: skip
        if v.name == "base":
            cfg = dataclasses.replace(s["base"], seed=seed)
            model_dir = train_clip(cfg, root, run_dir, progress=ctx.progress, overwrite=ctx.overwrite)
        else:
            cfg = dataclasses.replace(s["train"], **v.fields, seed=seed, base=str(done["base"].path))
            model_dir = train_ovt(cfg, root, run_dir, progress=ctx.progress, overwrite=ctx.overwrite)
        return Trained(model_dir, _model_ident(model_dir), cfg)

    def run_eval(self, spec: EvalCommand, cfg: ZeroShotConfig, values: dict[str, Any]) -> None:
        from vantage.bench.output import print_and_save
        from vantage.data import resolve_data_root
        from vantage.eval.zeroshot import load_zeroshot_data, zeroshot_benchmark
        from vantage.models import resolve_device
        from vantage.models.clip import get_clip_tokenizer, load_clip

        model, pretrained = values["model"], values["pretrained"]
        dev = resolve_device(values["device"])
        clip, model_cfg = load_clip(model, pretrained, values["image_size"])
        clip.to(dev)
        coil, real = real_sets(values)
        root = resolve_data_root(values["data"], values["preset"], need_card=False)
        eval_data = load_zeroshot_data(root, model_cfg["vision_cfg"]["image_size"], cfg, coil, real=real)
        result = zeroshot_benchmark(clip, get_clip_tokenizer(model), eval_data, cfg)
        record = {"model": model, "pretrained": pretrained, "config": to_dict(cfg), **result}
        print_and_save({"sets": result["sets"], "groups": result["groups"]}, values["out"], record, digits=2)

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        from vantage.data import resolve_data_root

        return resolve_data_root(data, preset, need_card=False)

    def eval_key(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained) -> dict[str, Any]:
        return {"eval": to_dict(s["eval"]), **ctx.real_key()}

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        from vantage.eval.zeroshot import load_zeroshot_data, zeroshot_benchmark
        from vantage.models.clip import get_clip_tokenizer, load_clip

        model_dir = Path(trained.path)
        size = json.loads((model_dir / "open_clip_config.json").read_text())["model_cfg"]["vision_cfg"]["image_size"]
        memo_key = ("zeroshot_data", str(root), size, str(ctx.real_key()))
        if memo_key not in ctx.memo:
            ctx.memo[memo_key] = load_zeroshot_data(root, size, s["eval"], ctx.real_data(), real=ctx.real)
        model, _ = load_clip(str(model_dir))
        model.to(ctx.device)
        result = zeroshot_benchmark(model, get_clip_tokenizer(str(model_dir)), ctx.memo[memo_key], s["eval"])
        arrays = {"per_view": np.asarray(result["per_view"]), "view_dirs": np.asarray(result["view_dirs"])}
        return Evaluation({"sets": result["sets"], "groups": result["groups"]}, arrays)

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        return {"sets": {k: v["top1"] for k, v in table["sets"].items()}, "groups": table["groups"]}

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        from vantage.data import load_card

        return {
            "coil20": str(ctx.real_data()) if ctx.real_data() else "absent",
            "chance_top1": 100.0 / max(1, len(load_card(root).get("categories", {}).get("in", []))),
            "base_config": s.raw["base"],
            "train_config": s.raw["train"],
            "eval_config": to_dict(s["eval"]),
            "bench_config": to_dict(s["bench"]),
            **grid.record(),
            "plots": self._plots(ctx, s, grid),
        }

    def _plots(self, ctx: BenchContext, s: Settings, grid: Any) -> dict[str, str]:
        """Zero-shot top-1 per Fib(100) viewpoint on the sphere, base and each variant (first seed)."""
        from vantage.report import sphere_value_plot

        seed = s["bench"].seeds[0]
        per_view, dirs = {}, None
        for v in grid.variants:
            z = grid.arrays(v.key, seed)
            if z:
                per_view[v.name], dirs = z["per_view"], z["view_dirs"]
        if dirs is None:
            return {}
        title = f"Zero-shot top-1 per unseen viewpoint (Fib(100)), held-out objects (seed {seed})"
        sphere_value_plot(dirs, per_view, ctx.out / "ovt_sphere.png", title)
        return {"sphere": "ovt_sphere.png"}

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        rows = zeroshot_table_rows(res.get("table", {}), fmt_mean_std, res.get("order"), res.get("deltas"))
        cfg = {**{f"base.{k}": v for k, v in res.get("base_config", {}).items()}, **res.get("train_config", {})}
        blocks = [
            Text(
                f"Zero-shot top-1 (%) on held-out objects, mean ± std over seeds {seeds}. The base CLIP saw only "
                "near-front views; clean = those views of new objects; 2D shifts of the same images; sphere = unseen "
                "poses over the whole sphere; worst view = an object counts only if its lowest-scoring rendered view "
                "is right; COIL-20 = same-object retrieval across azimuth. Δ rows: variant minus base, same seed."
            ),
            Table(["model", *ZEROSHOT_COLUMNS], rows),
            Figure(res.get("plots", {}).get("sphere"), "Zero-shot top-1 per unseen viewpoint (azimuth x elevation)"),
            KeyValues(cfg, "configuration", collapsed=True),
        ]
        title = f"Omniview-Tuning, zero-shot (seeds {seeds}; top-1 %, mean ± std; Δ = variant minus base, same seed)"
        return Section(title, blocks)
