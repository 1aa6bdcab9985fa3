"""3DTRL plug-in: a DeiT-like baseline vs +3DTRL (faithful, improved) trained on a restricted view range and
tested on held-out objects at seen views, at unseen poses over the sphere and under perspective warps; plus the
pseudo-depth score and panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant
from vantage.bench.output import REAL_SET_OPTIONS
from vantage.bench.plugin import EvalCommand, MethodPlugin, Option, Settings, TrainCommand, register_method
from vantage.config import to_dict
from vantage.report import Figure, KeyValues, Section, Table, Text, fmt_mean_std, fmt_signed
from vantage.train.classify import ClassifyTrainConfig, train_classify

__all__ = ["TRLBenchConfig", "TRLMethod"]

VARIANT_NAMES = {"none": "baseline", "faithful": "+3DTRL faithful", "improved": "+3DTRL improved"}
TOP1_COLUMNS = {"seen views": "seen_views", "unseen poses (Fib100)": "unseen_poses", "perturbed": "perturbed"}


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


@register_method
class TRLMethod(MethodPlugin):
    """3DTRL in a ViT classifier under viewpoint shift."""

    name = "trl3d"
    title = "3DTRL: viewpoint-robust classification"
    section = "trl3d"
    parts: ClassVar[dict[str, type]] = {"train": ClassifyTrainConfig, "bench": TRLBenchConfig}
    claims = (
        Claim("+3DTRL improved: top-1 under perspective warps", ("improved", "top1", "perturbed"),
              "+3.3 (DeiT-T, IN-1K-perturbed)", legacy=("+3DTRL improved", "top1", "perturbed"),
              competence=("table", "none", "top1", "seen_views"), chance="chance_top1"),
        Claim("+3DTRL improved: top-1 at unseen poses", ("improved", "top1", "unseen_poses"),
              "(the paper's thesis; no multi-view number)", legacy=("+3DTRL improved", "top1", "unseen_poses"),
              competence=("table", "none", "top1", "seen_views"), chance="chance_top1"),
    )  # fmt: skip
    train_commands = (
        TrainCommand("classify", train_classify, run_name="{trl3d}-seed{seed}", flags={"trl3d": ("--3dtrl",)},
                     help="Supervised classification on a restricted view range, optionally with 3DTRL (settings: "
                     "the preset's trl3d.train, then these options).",
                     data_help="A built dataset or an ImageFolder with train/ (default: the preset's build)."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("classify", part=None, help="Top-1 on held-out objects at the training views, at unseen poses "
                    "(Fib(100)) and under perspective warps; on an ImageFolder (--data with val/ or test/ class "
                    "folders), top-1 per split; on every --real set whose categories are the model's classes, top-1 "
                    "overall and per azimuth bin.", extras=(
            Option("checkpoint", Path, ..., "A `vantage train classify` checkpoint."),
            Option("distortion", float, 0.5, "Perspective-warp strength (torchvision distortion_scale)."),
            Option("seed", int, 0, "Seed of the perspective warps."),
            REAL_SET_OPTIONS[2])),
        EvalCommand("depth", part=None, help="Per-image Spearman correlation of 3DTRL token depth with rendered "
                    "depth, averaged over test images.", extras=(
            Option("checkpoint", Path, ..., "A `vantage train classify --3dtrl ...` checkpoint."),
            Option("max_images", int, 500, "Test images to score (0: all with depth)."),
            Option("min_foreground", float, 0.5, "Score a token cell if the object covers at least this fraction "
                   "of it."))),
    )  # fmt: skip

    def variants(self, s: Settings) -> list[Variant]:
        base = "none" if "none" in s["bench"].variants else None
        return [Variant(VARIANT_NAMES[v], v, {"trl3d": v}, None if v == "none" else base) for v in s["bench"].variants]

    def run_eval(self, spec: EvalCommand, cfg: Any, values: dict[str, Any]) -> None:
        from vantage.bench.output import parse_real, print_and_save
        from vantage.data import resolve_data_root
        from vantage.eval import (
            evaluate_classifier,
            evaluate_imagefolder,
            evaluate_pseudo_depth,
            evaluate_real_classification,
        )
        from vantage.models import resolve_device
        from vantage.train import load_classifier, train_view_filter

        data, ckpt = values["data"], values["checkpoint"]
        dev = resolve_device(values["device"])
        model, mcfg, classes = load_classifier(ckpt)
        model.to(dev)
        root = resolve_data_root(data, values["preset"], need_card=data is None)
        if spec.name == "depth":
            res = evaluate_pseudo_depth(model, root, mcfg.image_size, max_images=values["max_images"] or None,
                                        min_foreground=values["min_foreground"])  # fmt: skip
        else:
            real = parse_real(values["real"])
            if (root / "dataset.json").is_file():
                ev = evaluate_classifier(model, root, classes, mcfg.image_size, mcfg.train_view_set,
                                         train_view_filter(mcfg), values["distortion"], values["seed"])  # fmt: skip
                res = {"top1": ev.top1, "n": ev.n}
            else:
                res = evaluate_imagefolder(model, root, classes, mcfg.image_size)
            if real:
                res["real"] = evaluate_real_classification(model, real, classes, mcfg.image_size)
        print_and_save(res, values["out"], {"checkpoint": str(ckpt), "data": str(root), **res})

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        from vantage.data import resolve_data_root

        return resolve_data_root(data, preset, need_card=False)

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        from vantage.eval.classify import evaluate_classifier, evaluate_pseudo_depth
        from vantage.train.classify import load_classifier, train_view_filter

        bench: TRLBenchConfig = s["bench"]
        model, mcfg, classes = load_classifier(trained.path)
        model.to(ctx.device)
        ev = evaluate_classifier(
            model, root, classes, mcfg.image_size, mcfg.train_view_set, train_view_filter(mcfg), bench.distortion,
            seed,
        )  # fmt: skip
        table: dict[str, Any] = {"top1": ev.top1}
        if mcfg.trl3d != "none":
            table["pseudo_depth"] = evaluate_pseudo_depth(
                model, root, mcfg.image_size, max_images=bench.depth_images, min_foreground=bench.depth_min_foreground
            )
        return Evaluation(table, {"per_view": ev.per_view, "view_dirs": ev.view_dirs}, {"n": ev.n})

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        from vantage.data import load_card

        return {
            "train_config": s.raw["train"],
            "bench_config": to_dict(s["bench"]),
            "chance_top1": 100.0 / max(1, len(load_card(root).get("categories", {}).get("in", []))),
            **grid.record(),
            "plots": self._plots(ctx, s, grid, root),
        }

    def _plots(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, str]:
        from vantage.data import filter_records, inside, load_records
        from vantage.eval.classify import pseudo_depth_maps
        from vantage.eval.features import load_image_bank
        from vantage.report import depth_panel, sphere_value_plot
        from vantage.train.classify import load_classifier

        bench: TRLBenchConfig = s["bench"]
        seed = bench.seeds[0]
        per_view, dirs = {}, None
        for v in grid.variants:
            z = grid.arrays(v.key, seed)
            if z:
                per_view[v.name], dirs = z["per_view"], z["view_dirs"]
        plots: dict[str, str] = {}
        if dirs is not None:
            title = f"Top-1 per Fib(100) viewpoint, test objects (seed {seed})"
            sphere_value_plot(dirs, per_view, ctx.out / "trl3d_sphere.png", title)
            plots["sphere"] = "trl3d_sphere.png"
        trl = [v for v in grid.variants if v.key != "none"]
        if trl and bench.panel_images > 0:
            rows = filter_records(load_records(root), split="test", domain="in", view_set="fib50")
            rows = [r for r in rows if r.depth_file][:: max(1, len(rows) // bench.panel_images)][: bench.panel_images]
            pseudo, bank = {}, None
            for v in trl:
                ckpt = grid.run_dirs[(v.key, seed)] / "checkpoints" / "last.ckpt"
                model, mcfg, classes = load_classifier(ckpt)
                if bank is None:
                    bank = load_image_bank(root, rows, mcfg.image_size, classes)
                pseudo[v.name] = pseudo_depth_maps(model, bank.images).numpy()
            rendered = np.stack([np.load(inside(root, r.depth_file)) for r in rows])
            depth_panel(bank.images.permute(0, 2, 3, 1).numpy(), rendered, pseudo, ctx.out / "trl3d_depth.png",
                        "3DTRL pseudo-depth vs rendered depth (brighter = nearer)")  # fmt: skip
            plots["depth"] = "trl3d_depth.png"
        return plots

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        table, order = res.get("table", {}), res.get("order") or list(res.get("table", {}))
        rows = []
        for name in [n for n in order if n in table]:
            t = table[name]
            depth = t.get("pseudo_depth", {})
            top1 = [fmt_mean_std(t.get("top1", {}).get(c)) for c in TOP1_COLUMNS.values()]
            rho = [fmt_mean_std(depth.get("spearman_mean"), 3), fmt_mean_std(depth.get("abs_spearman_mean"), 3)]
            rows.append([name, *top1, *rho])
        view = res.get("train_config", {}).get("train_view_set", "canonical")
        blocks: list[Any] = [
            Text(
                f"Top-1 (%) on held-out objects, mean ± std over seeds {seeds}; trained on the {view} views. "
                "Pseudo-depth: per-image Spearman correlation of token depth with rendered depth (signed, absolute)."
            ),
            Table(["model", *TOP1_COLUMNS, "depth rho", "abs rho"], rows),
        ]
        deltas = res.get("deltas", {})
        if deltas:
            drows = [[name, *(fmt_signed(d.get("top1", {}).get(c)) for c in TOP1_COLUMNS.values())]
                     for name, d in deltas.items()]  # fmt: skip
            blocks.append(Table(["model", *TOP1_COLUMNS], drows, title="minus the baseline (points, same seed)"))
        plots = res.get("plots", {})
        blocks.append(Figure(plots.get("sphere"), "Top-1 per viewpoint over the sphere (azimuth x elevation)"))
        blocks.append(Figure(plots.get("depth"), "Image, rendered depth and 3DTRL pseudo-depth"))
        blocks.append(KeyValues(res.get("train_config", {}), "configuration", collapsed=True))
        return Section(f"{self.title} (seeds {seeds}; top-1 %, mean ± std)", blocks)
