"""Pose-aware SSL plug-in: each SSL method with and without the trajectory loss, the supervised baseline and an
untrained encoder, trained on the preset's data and scored by the semantic + pose benchmark, per seed."""

from __future__ import annotations

import dataclasses
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
from vantage.eval.metrics import POSE_METRICS, lookup, variant_table_rows
from vantage.eval.pose_ssl import PoseEvalConfig
from vantage.report import Figure, KeyValues, Section, Table, Text, fmt_mean_std, fmt_signed, mean_of
from vantage.train.ssl import SSLTrainConfig, train_ssl

__all__ = ["PoseSSLBenchConfig", "PoseSSLMethod"]


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
        from vantage.losses import SSL_METHOD_TABLE

        bad = [m for m in self.methods if m not in SSL_METHOD_TABLE]
        if bad:
            raise ValueError(f"methods {bad} unknown; choose from {list(SSL_METHOD_TABLE)}")
        if not self.traj_weights or min(self.traj_weights) <= 0:
            raise ValueError(f"traj_weights must be > 0 (runs without the loss are made anyway): {self.traj_weights}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def _mean(agg: dict[str, Any], path: str) -> float | None:
    return mean_of(lookup(agg, path))


@register_method
class PoseSSLMethod(MethodPlugin):
    """Trajectory-regularised pose-aware SSL and its semantic + pose benchmark."""

    name = "pose_ssl"
    title = "Pose-aware SSL: semantics and pose"
    section = "ssl"
    parts: ClassVar[dict[str, type]] = {"train": SSLTrainConfig, "eval": PoseEvalConfig, "bench": PoseSSLBenchConfig}
    claims = (
        Claim("VICReg + trajectory loss: relative pose, in-domain (conv3)",
              ("traj_minus_plain", "vicreg+traj0.1", "conv3", "rel in-domain"), "+4"),
        Claim("VICReg + trajectory loss: absolute pose at unseen poses (conv3)",
              ("traj_minus_plain", "vicreg+traj0.1", "conv3", "abs unseen-pose acc@30"), "+3"),
    )  # fmt: skip
    train_commands = (
        TrainCommand("ssl", train_ssl, run_name="{method}-traj{traj_weight:g}-seed{seed}",
                     help="Pose-aware SSL on the triplet view set (settings: the preset's ssl.train, then these "
                     "options)."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("pose-ssl", help="The semantic + pose benchmark (semantics, absolute and relative pose in four "
                    "scenarios, COIL-20).", out_help="Output folder (default: <checkpoint run>/eval).", extras=(
            Option("checkpoint", Path | None, None, "A `vantage train ssl` checkpoint, or with --model a state dict."),
            Option("model", str | None, None, "A timm model name (your own encoder) instead of an SSL run."),
            Option("pretrained", bool, False, "With --model: timm's pretrained weights (needs the hub).",
                   ("--pretrained/--no-pretrained",)),
            Option("stem", str, "timm", "With --model, ResNets: timm | cifar | cifar_pool."),
            Option("taps", str | None, None, "Comma-separated taps (default from config), e.g. pooled,conv3."),
            *REAL_SET_OPTIONS)),
    )  # fmt: skip

    def variants(self, s: Settings) -> list[Variant]:
        cfg: PoseSSLBenchConfig = s["bench"]
        rows = []
        for m in cfg.methods:
            rows.append(Variant(m, m, {"method": m, "traj_weight": 0.0}))
            rows += [Variant(f"{m}+traj{w:g}", f"{m}+traj{w:g}", {"method": m, "traj_weight": w}, baseline=m)
                     for w in cfg.traj_weights]  # fmt: skip
        if cfg.supervised:
            rows.append(Variant("supervised", "supervised", {"method": "supervised", "traj_weight": 0.0}))
        if cfg.random_init:
            rows.append(Variant("random-init", "random-init", {"method": "vicreg", "traj_weight": 0.0}))
        return rows

    def train(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, run_dir: Path, root: Path,
              done: dict[str, Trained]) -> Trained:  # fmt: skip
        if v.name == "random-init":
            cfg = dataclasses.replace(s["train"], **v.fields, seed=seed)
            return Trained(None, f"random-init:{config_hash(to_dict(cfg))}", cfg)
        return super().train(ctx, s, v, seed, run_dir, root, done)

    def run_eval(self, spec: EvalCommand, cfg: PoseEvalConfig, values: dict[str, Any]) -> None:
        import json

        from vantage.bench.output import rounded
        from vantage.config import ConfigError
        from vantage.data import load_card, resolve_data_root
        from vantage.eval import eval_image_size, evaluate_pose_ssl, load_pose_eval_data, pose_table_markdown
        from vantage.io import atomic_write_json
        from vantage.models import FeatureExtractor, create_backbone, resolve_device
        from vantage.train import load_ssl_extractor

        checkpoint, model, quiet = values["checkpoint"], values["model"], values["quiet"]
        dev = resolve_device(values["device"])
        if checkpoint is None and model is None:
            raise ConfigError("give --checkpoint (a `vantage train ssl` run) or --model (a timm model name)")
        if values["taps"]:
            cfg.taps = [t.strip() for t in values["taps"].split(",") if t.strip()]
        if model is None:
            extractor, train_cfg = load_ssl_extractor(checkpoint)
            trained_size = train_cfg.image_size
        else:
            backbone = create_backbone(model, values["pretrained"], checkpoint, stem=values["stem"])
            extractor, trained_size = FeatureExtractor(backbone).eval(), None
        root = resolve_data_root(values["data"], values["preset"])
        cfg.image_size = eval_image_size(cfg.image_size, trained_size, load_card(root).get("image_size", 224))
        coil, real = real_sets(values)
        eval_data = load_pose_eval_data(root, cfg, coil, progress=not quiet, real=real)
        result = evaluate_pose_ssl(extractor.to(dev), eval_data, cfg, progress=not quiet)
        if model is None:
            default_dest = checkpoint.parent.parent / "eval"
        else:  # one folder per encoder, so a second model does not overwrite the first
            weights = "pretrained" if values["pretrained"] else checkpoint.stem if checkpoint is not None else "random"
            default_dest = Path("runs") / "eval" / f"{model.replace('/', '_')}-{weights}"
        dest = values["out"] or default_dest
        dest.mkdir(parents=True, exist_ok=True)
        record = {"checkpoint": str(checkpoint) if checkpoint else None, "model": model, "data": str(root),
                  "coil20": str(coil) if coil else None, "real": {k: str(v) for k, v in eval_data.real.items()},
                  "skipped": eval_data.skipped, "config": to_dict(cfg), "table": result.table,
                  "seconds": result.seconds}  # fmt: skip
        atomic_write_json(dest / "pose_ssl.json", record)
        print(pose_table_markdown(result.table))
        for name in eval_data.real:
            for tap, t in result.table.items():
                if name in t:
                    for kind in ("relative_azimuth", "relative_rotation"):
                        if kind in t[name]:
                            scores = rounded(t[name][kind], 2)
                            print(f"real set {name} ({tap}): {kind.replace('_', ' ')} {json.dumps(scores)}")
        print(f"seconds: {result.seconds}\nwrote {dest / 'pose_ssl.json'}")

    def _eval_config(self, s: Settings, seed: int, trained: Trained) -> PoseEvalConfig:
        from vantage.eval import eval_image_size

        size = eval_image_size(s["eval"].image_size, trained.config.image_size)
        return dataclasses.replace(s["eval"], seed=seed, image_size=size)

    def eval_key(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained) -> dict[str, Any]:
        return {"eval": to_dict(self._eval_config(s, seed, trained)), **ctx.real_key()}

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        import torch

        from vantage.eval import evaluate_pose_ssl, load_pose_eval_data
        from vantage.models import FeatureExtractor
        from vantage.train import build_backbone, load_ssl_extractor

        ecfg = self._eval_config(s, seed, trained)
        if trained.path is not None:
            extractor, _ = load_ssl_extractor(trained.path)
        else:
            torch.manual_seed(seed)
            extractor = FeatureExtractor(build_backbone(trained.config)).eval()
        coil20 = ctx.real_data()
        memo_key = ("pose_eval_data", str(root), ecfg.image_size, str(ctx.real_key()))
        if memo_key not in ctx.memo:
            ctx.memo[memo_key] = load_pose_eval_data(root, ecfg, coil20, real=ctx.real)
        result = evaluate_pose_ssl(extractor.to(ctx.device), ctx.memo[memo_key], ecfg, progress=ctx.progress)
        return Evaluation(result.table, result.arrays, {"phase_seconds": result.seconds})

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        return {tap: {label: lookup(t, path) for label, path in POSE_METRICS.items()} for tap, t in table.items()}

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        rec = grid.record()
        taps = list(s["eval"].taps)
        return {
            "coil20": str(ctx.real_data()) if ctx.real_data() else "absent",
            "train_config": s.raw["train"],
            "eval_config": to_dict(s["eval"]),
            "bench_config": to_dict(s["bench"]),
            "taps": taps,
            **rec,
            "deltas": {"traj_minus_plain": rec["deltas"], "tap_minus_pooled": _tap_minus_pooled(rec["table"], taps)},
            "plots": self._plots(ctx, s, grid),
        }

    def _plots(self, ctx: BenchContext, s: Settings, grid: Any) -> dict[str, str]:
        """Per-viewpoint absolute-pose accuracy on the sphere and error histograms (first seed, ``plot_tap``)."""
        from vantage.report import error_histograms, sphere_value_plot

        cfg, taps = s["bench"], s["eval"].taps
        tap = cfg.plot_tap if cfg.plot_tap in taps else taps[0]
        seed = cfg.seeds[0]
        per_view: dict[str, np.ndarray] = {}
        errors: dict[str, dict[str, np.ndarray]] = {"in-domain (Fib50)": {}, "unseen poses (Fib100)": {}}
        dirs = None
        for v in grid.variants:
            z = grid.arrays(v.key, seed)
            if not z:
                continue
            dirs = z["view_dirs"]
            per_view[v.name] = z[f"{tap}/in_domain/per_view_top1"]
            errors["in-domain (Fib50)"][v.name] = z[f"{tap}/in_domain/errors_deg"]
            if f"{tap}/unseen_poses/errors_deg" in z:
                errors["unseen poses (Fib100)"][v.name] = z[f"{tap}/unseen_poses/errors_deg"]
        if dirs is None:
            return {}
        title = f"Absolute-pose kNN top-1 per Fib(50) viewpoint, test objects ({tap}, seed {seed})"
        sphere_value_plot(dirs, per_view, ctx.out / "pose_ssl_sphere.png", title)
        errors = {k: v for k, v in errors.items() if v}
        error_histograms(errors, ctx.out / "pose_ssl_errors.png", f"Absolute-pose geodesic errors ({tap}, seed {seed})")
        return {"sphere": "pose_ssl_sphere.png", "errors": "pose_ssl_errors.png", "tap": tap}

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        blocks: list[Any] = [
            Text(
                f"Top-1 (%) per feature tap, mean ± std over seeds {seeds}. abs = absolute pose (per-category kNN "
                "over Fib(50) view bins; unseen poses: accuracy within 30°), rel = relative-pose probe (50 rotation "
                "bins), COIL-20 = relative azimuth on real photographs (12 bins)."
            )
        ]
        for tap in res.get("taps", []):
            rows = variant_table_rows(res.get("table", {}), tap, fmt_mean_std, res.get("order"))
            blocks.append(Table(["model", *POSE_METRICS], rows, title=tap))
        deltas = res.get("deltas", {})
        for key, title in (("traj_minus_plain", "Trajectory loss: +traj minus plain (points, same seed)"),
                           ("tap_minus_pooled", "Mid-layer taps minus pooled (points, means)")):  # fmt: skip
            rows = [
                [name, tap, *(fmt_signed(d.get(label)) for label in POSE_METRICS)]
                for name, by_tap in deltas.get(key, {}).items()
                for tap, d in by_tap.items()
            ]
            if rows:
                blocks.append(Table(["model", "tap", *POSE_METRICS], rows, title=title))
        plots = res.get("plots", {})
        blocks.append(Figure(plots.get("sphere"), "Absolute-pose accuracy per viewpoint (azimuth x elevation)"))
        blocks.append(Figure(plots.get("errors"), "Absolute-pose geodesic error histograms"))
        cfg = {**res.get("train_config", {}), **{f"eval.{k}": v for k, v in res.get("eval_config", {}).items()}}
        blocks.append(KeyValues(cfg, "configuration", collapsed=True))
        return Section(f"{self.title} (seeds {seeds}; top-1 %, mean ± std)", blocks)


def _tap_minus_pooled(agg: dict[str, Any], taps: list[str]) -> dict[str, Any]:
    """Each mid-layer tap minus the pooled feature, per model (difference of means)."""
    out: dict[str, Any] = {}
    for name, table in agg.items():
        out[name] = {
            tap: {
                label: round(b - a, 2)
                for label, path in POSE_METRICS.items()
                if (a := _mean(table, f"pooled/{path}")) is not None
                and (b := _mean(table, f"{tap}/{path}")) is not None
            }
            for tap in taps
            if tap != "pooled" and "pooled" in taps
        }
    return out
