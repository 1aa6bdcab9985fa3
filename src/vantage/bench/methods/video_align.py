"""Multi-view video alignment plug-in (3DTRL's headline task): DeiT + time-contrastive training vs + 3DTRL
faithful vs improved on the preset's video data, trained on the first-person and seen cameras, scored on
held-out trajectories for seen and unseen cameras, at several fractions of the training trajectories."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant
from vantage.bench.plugin import EvalCommand, MethodPlugin, Option, Settings, TrainCommand, register_method
from vantage.config import to_dict
from vantage.data.video import VideoConfig
from vantage.eval.align import GROUPS, AlignEvalConfig
from vantage.report import Figure, KeyValues, Section, Table, Text, fmt_mean_std, fmt_signed
from vantage.train.align import ALIGN_OBJECTIVES, AlignTrainConfig, train_align

__all__ = ["AlignBenchConfig", "VideoAlignMethod"]

LABELS = {"none": "DeiT", "faithful": "+3DTRL faithful", "improved": "+3DTRL improved", "resnet": "ResNet"}
# the DeiT baseline's first-/third-person alignment error on seen cameras; a random embedding scores about 1/3
COMPETENCE = ("table", "none-f1", "groups", "fpv_tpv/seen", "align_err")
COLUMNS = {"align err": "align_err", "cycle err": "cycle_err", "tau": "tau", "tau-b": "tau_b"}
# The paper's Pick (Panda) numbers, DeiT+TCN -> +3DTRL: (align err, cycle err, tau)
PAPER = {"seen": ((0.216, 0.138, 0.244), (0.115, 0.073, 0.633)),
         "unseen": ((0.294, 0.225, -0.016), (0.180, 0.163, 0.389))}  # fmt: skip


@dataclass
class AlignBenchConfig:
    """Which runs the suite makes (the preset's ``align.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["none", "faithful", "improved"])
    objective: str = "infonce"
    fractions: list[float] = field(default_factory=lambda: [1.0])  # of the training trajectories
    fraction_variants: list[str] | None = None  # variants also trained at fractions < 1 (None: all)
    seeds: list[int] = field(default_factory=lambda: [0])
    # the second baseline's encoder (variant ``resnet``): any timm CNN; a quarter-width ResNet-18 at CPU scale
    resnet: dict[str, Any] = field(
        default_factory=lambda: {"model": "resnet18", "model_kwargs": {"channels": [16, 32, 64, 128]}}
    )
    retrieval_frames: int = 8  # query frames in the retrieval picture

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in LABELS]
        if bad or not self.variants:
            raise ValueError(f"variants {bad or self.variants} invalid; choose from {list(LABELS)}")
        if self.objective not in ALIGN_OBJECTIVES:
            raise ValueError(f"objective must be one of {ALIGN_OBJECTIVES}, got {self.objective!r}")
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            raise ValueError(f"fractions must be in (0, 1], got {self.fractions}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")
        if self.fraction_variants is not None and not set(self.fraction_variants) <= set(self.variants):
            raise ValueError(f"fraction_variants {self.fraction_variants} must be among variants {self.variants}")
        if "model" not in self.resnet or set(self.resnet) - {"model", "model_kwargs"}:
            raise ValueError(f"resnet must give model (and optionally model_kwargs), got {sorted(self.resnet)}")


def _name(v: str, fraction: float, many: bool) -> str:
    return f"{LABELS[v]} ({fraction:.0%})" if many else LABELS[v]


@register_method
class VideoAlignMethod(MethodPlugin):
    """Alignment of first- and third-person videos with a per-frame encoder (+3DTRL)."""

    name = "video_align"
    title = "Multi-view video alignment (first- and third-person)"
    section = "align"
    parts: ClassVar[dict[str, type]] = {"data": VideoConfig, "train": AlignTrainConfig, "eval": AlignEvalConfig,
                                        "bench": AlignBenchConfig}  # fmt: skip
    claims = (
        Claim("+3DTRL improved: first-/third-person alignment error, seen cameras",
              ("improved", "groups", "fpv_tpv/seen", "align_err"), "-0.101 (Pick)", False, 3,
              ("+3DTRL improved", "groups", "fpv_tpv/seen", "align_err"), COMPETENCE, 1 / 3, 0.05, False),
        Claim("+3DTRL improved: first-/third-person alignment error, unseen cameras",
              ("improved", "groups", "fpv_tpv/unseen", "align_err"), "-0.114 (Pick)", False, 3,
              ("+3DTRL improved", "groups", "fpv_tpv/unseen", "align_err"), COMPETENCE, 1 / 3, 0.05, False),
    )  # fmt: skip
    train_commands = (
        TrainCommand("align", train_align, run_name="{trl3d}-{objective}-seed{seed}", flags={"trl3d": ("--3dtrl",)},
                     help="Multi-view time-contrastive training of a per-frame encoder (+3DTRL) on the first-person "
                     "and seen third-person cameras of a video dataset (settings: the preset's align.train, then "
                     "these options).", data_help="A built video dataset (default: the preset's)."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("align", help="Alignment error, cycle error and Kendall's tau (reference and tau-b) over every "
                    "camera pair of the held-out trajectories, for first-/third-person and third-/third-person pairs, "
                    "seen and unseen cameras; phase classification and progression probes; with 3DTRL, the "
                    "camera-head diagnostic.", data_help="A built video dataset (default: the preset's).", extras=(
            Option("checkpoint", Path, ..., "A `vantage train align` checkpoint."),
            Option("figure", Path | None, None, "PNG: first-person query frames and the third-person frames "
                   "retrieved."))),
    )  # fmt: skip

    def dataset(self, ctx: BenchContext, s: Settings) -> Path:
        """Build or reuse the preset's video data (its ``align.data`` part)."""
        from vantage.data.video import build_video_dataset

        res = build_video_dataset(s["data"], workers=ctx.workers, progress=ctx.progress)
        ctx.memo["video_build"] = {"root": str(res.root), "rendered": res.rendered, "seconds": round(res.seconds, 2)}
        return res.root

    def variants(self, s: Settings) -> list[Variant]:
        b: AlignBenchConfig = s["bench"]
        many = len(b.fractions) > 1
        rows = []
        for f in sorted(b.fractions, reverse=True):
            base = f"none-f{f:g}" if "none" in b.variants else None
            for v in b.variants:
                if f < max(b.fractions) and b.fraction_variants is not None and v not in b.fraction_variants:
                    continue
                fields = {"trl3d": "none" if v == "resnet" else v, "train_fraction": f, "objective": b.objective}
                if v == "resnet":
                    fields.update({"model_kwargs": {}, **b.resnet})
                rows.append(Variant(_name(v, f, many), f"{v}-f{f:g}", fields, None if v == "none" else base))
        return rows

    def run_eval(self, spec: EvalCommand, cfg: AlignEvalConfig, values: dict[str, Any]) -> None:
        from vantage.bench.output import print_and_save
        from vantage.data.video import resolve_video_root
        from vantage.eval.align import evaluate_alignment, retrieval_panels
        from vantage.models import find_3dtrl, resolve_device
        from vantage.train.align import load_align_encoder

        ckpt, figure = values["checkpoint"], values["figure"]
        dev = resolve_device(values["device"])
        module, mcfg = load_align_encoder(ckpt)
        module.to(dev)
        trl = find_3dtrl(module.encoder) if mcfg.trl3d != "none" else None
        root = resolve_video_root(values["data"], values["preset"])
        res = evaluate_alignment(module.embed, root, mcfg.image_size, cfg, trl, dev)
        if figure is not None and "retrieval" in res:
            from vantage.report import retrieval_strip

            e = res["retrieval"]
            query, rows, titles = retrieval_panels(root, {ckpt.parent.parent.name: e})
            retrieval_strip(query, rows, figure, titles, f"{e['sequence_id']}: {e['query']} query -> nearest "
                            f"{e['target']} frame")  # fmt: skip
        shown = {k: v for k, v in res.items() if k != "retrieval"}
        print_and_save(shown, values["out"], {"checkpoint": str(ckpt), **res})
        if figure is not None:
            print(f"wrote {figure}")

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        from vantage.data.video import resolve_video_root

        return resolve_video_root(data, preset)

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        from vantage.eval.align import evaluate_alignment
        from vantage.models import find_3dtrl
        from vantage.train.align import load_align_encoder

        module, cfg = load_align_encoder(trained.path)
        module.to(ctx.device)
        trl = find_3dtrl(module.encoder) if cfg.trl3d != "none" else None
        table = evaluate_alignment(module.embed, root, cfg.image_size, s["eval"], trl, ctx.device)
        example = table.pop("retrieval", None)
        if example is None:
            return Evaluation(table)
        nn = np.asarray(example.pop("nn"))
        return Evaluation(table, {"retrieval_nn": nn}, {"retrieval": example})

    def findings(self, result: dict[str, Any]) -> list[list[str]]:
        """The claims at the largest training fraction (keys end in ``-f<fraction>``; results written before keys
        name rows by label, with " (100%)" when there are several fractions)."""
        from vantage.bench.findings import claim_row

        deltas = result.get("deltas", {})
        if "labels" in result:
            top = max(result.get("bench_config", {}).get("fractions") or [1.0])
            deltas = {k.removesuffix(f"-f{top:g}"): d for k, d in deltas.items() if k.endswith(f"-f{top:g}")}
        else:
            deltas = {n.removesuffix(" (100%)"): d for n, d in deltas.items() if n.endswith(" (100%)")} or deltas
        return [claim_row(c, deltas, result) for c in self.claims]

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        return {"groups": table.get("groups", {})}

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        rec = grid.record()
        return {
            "video": ctx.memo.get("video_build", {}),
            "train_config": s.raw["train"],
            "eval_config": to_dict(s["eval"]),
            "bench_config": to_dict(s["bench"]),
            **rec,
            "plots": {**self._plots(ctx, s, rec), **self._retrieval_plot(ctx, s, grid, root)},
        }

    def _retrieval_plot(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, str]:
        """First-person query frames of one held-out trajectory with the third-person (unseen camera) frame each
        model retrieved, for the first seed at the largest training fraction."""
        from vantage.eval.align import retrieval_panels
        from vantage.report import retrieval_strip

        b: AlignBenchConfig = s["bench"]
        seed, f = b.seeds[0], max(b.fractions)
        examples = {}
        for v in b.variants:
            key = f"{v}-f{f:g}"
            run = grid.runs.get(f"{key}/seed{seed}", {})
            nn = grid.arrays(key, seed).get("retrieval_nn") if (key, seed) in grid.run_dirs else None
            if "retrieval" in run and nn is not None:
                examples[LABELS[v]] = {**run["retrieval"], "nn": nn}
        if not examples:
            return {}
        query, rows, titles = retrieval_panels(root, examples, b.retrieval_frames)
        e = next(iter(examples.values()))
        title = f"{e['sequence_id']}: {e['query']} query -> nearest {e['target']} frame (seed {seed})"
        retrieval_strip(query, rows, ctx.out / "video_align_retrieval.png", titles, title)
        return {"retrieval": "video_align_retrieval.png"}

    def _plots(self, ctx: BenchContext, s: Settings, rec: dict[str, Any]) -> dict[str, str]:
        """Data efficiency: first-/third-person alignment error (unseen cameras) against the training fraction."""
        b: AlignBenchConfig = s["bench"]
        if len(b.fractions) < 2:
            return {}
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
        for ax, group in zip(axes, ("fpv_tpv/seen", "fpv_tpv/unseen"), strict=True):
            for v in b.variants:
                xs, ys, es = [], [], []
                for f in sorted(b.fractions):
                    leaf = rec["table"].get(f"{v}-f{f:g}", {}).get("groups", {}).get(group, {}).get("align_err")
                    if isinstance(leaf, dict):
                        xs.append(100 * f)
                        ys.append(leaf["mean"])
                        es.append(leaf["std"])
                ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=LABELS[v])
            ax.set(title=f"{group.replace('_', '-')}", xlabel="training trajectories (%)", ylabel="alignment error")
            ax.grid(alpha=0.3)
        axes[0].legend()
        fig.savefig(ctx.out / "video_align_efficiency.png", dpi=110)
        plt.close(fig)
        return {"efficiency": "video_align_efficiency.png"}

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        table, order = res.get("table", {}), res.get("order") or list(res.get("table", {}))
        blocks: list[Any] = [
            Text(
                f"Per view pair of every held-out trajectory (mean ± std over seeds {seeds}): alignment error and "
                "cycle error (lower is better, fraction of the sequence length), Kendall's tau as the reference "
                "computes it (ties count against) and tau-b (ties neutral). Trained on the first-person camera "
                "and the seen third-person cameras; unseen = pairs with a camera never trained on."
            )
        ]
        for group in GROUPS:
            rows = [[n, *(fmt_mean_std(table[n].get("groups", {}).get(group, {}).get(c), 3) for c in COLUMNS.values())]
                    for n in order if n in table]  # fmt: skip
            blocks.append(Table(["model", *COLUMNS], rows, title=group.replace("_", "-").replace("/", ", ")))
        deltas = res.get("deltas", {})
        if deltas:
            rows = [[n, g, *(fmt_signed(d.get("groups", {}).get(g, {}).get(c), 3) for c in COLUMNS.values())]
                    for n, d in deltas.items() for g in ("fpv_tpv/seen", "fpv_tpv/unseen")]  # fmt: skip
            blocks.append(Table(["model", "pairs", *COLUMNS], rows, title="minus DeiT (same seed)"))
        tasks = sorted({t for n in order for t in table.get(n, {}).get("phases", {}) if t != "mean"})
        if tasks:
            rows = [[n, *(fmt_mean_std(table[n].get("phases", {}).get(t, {}).get(k), d)
                          for t in [*tasks, "mean"] for k, d in (("phase_acc", 1), ("progress_r2", 3)))]
                    for n in order if n in table]  # fmt: skip
            head = ["model", *(f"{t} {k}" for t in [*tasks, "mean"] for k in ("phase top-1", "progress R²"))]
            title = "phase probes (TCC): a linear phase classifier and a progress regression fitted on the training "
            blocks.append(Table(head, rows, title=title + "trajectories, all cameras"))
        cams = [[n, *(fmt_mean_std(table[n]["camera_head"].get(k), 3) for k in
                      ("rotation_corr", "translation_corr", "rotation_spread_deg", "translation_spread"))]
                for n in order if n in table and "camera_head" in table[n]]  # fmt: skip
        if cams:
            head = ["model", "rotation corr", "translation corr", "rotation spread (deg)", "translation spread"]
            blocks.append(Table(head, cams, title="3DTRL camera head vs the true cameras"))
        paper = [[f"paper Pick, {k}", *(f"{a:.3f} -> {b:.3f}" for a, b in zip(*PAPER[k], strict=True))]
                 for k in ("seen", "unseen")]  # fmt: skip
        blocks.append(Table(["paper (DeiT+TCN -> +3DTRL)", "align err", "cycle err", "tau"], paper))
        blocks.append(Figure(res.get("plots", {}).get("efficiency"), "Alignment error vs training trajectories"))
        caption = "First-person query frames and the third-person frame each model retrieves (retrieved frame, offset)"
        blocks.append(Figure(res.get("plots", {}).get("retrieval"), caption))
        blocks.append(KeyValues({**res.get("train_config", {}), **res.get("video", {})}, "configuration",
                                collapsed=True))  # fmt: skip
        return Section(f"{self.title} (seeds {seeds})", blocks)
