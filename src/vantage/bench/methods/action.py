"""Cross-view action recognition plug-in (3DTRL's third task): TimeSformer vs + 3DTRL faithful vs improved (and a
per-frame ViT pair) on the preset's action videos, under the cross-view and cross-subject protocols."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant
from vantage.bench.plugin import EvalCommand, MethodPlugin, Option, Settings, TrainCommand, register_method
from vantage.config import to_dict
from vantage.data.video import VideoConfig
from vantage.eval.action import ActionEvalConfig
from vantage.report import Figure, KeyValues, Section, Table, Text, fmt_mean_std, fmt_signed
from vantage.train.action import ActionTrainConfig, train_action

__all__ = ["ActionBenchConfig", "ActionMethod"]

# variant -> (arch, 3dtrl, label)
MODELS = {
    "timesformer": ("timesformer", "none", "TimeSformer"),
    "timesformer_faithful": ("timesformer", "faithful", "TimeSformer +3DTRL faithful"),
    "timesformer_improved": ("timesformer", "improved", "TimeSformer +3DTRL improved"),
    "frame": ("frame", "none", "per-frame ViT"),
    "frame_faithful": ("frame", "faithful", "per-frame ViT +3DTRL faithful"),
    "frame_improved": ("frame", "improved", "per-frame ViT +3DTRL improved"),
}
# the TimeSformer baseline on seen cameras and new actors (cross-subject): the task without the viewpoint shift
COMPETENCE = ("table", "timesformer-cross_subject", "top1")
PROTOCOL_LABELS = {"cross_view": "cross-view", "cross_subject": "cross-subject"}
# the paper's TimeSformer -> +3DTRL (top-1, mean per-class; NTU reports top-1 only)
PAPER = [
    ("Toyota Smarthome CV2", "cross_view", (59.4, 27.5), (62.9, 34.0)),
    ("Toyota Smarthome CS", "cross_subject", (75.7, 56.1), (76.1, 57.0)),
    ("NTU RGB+D CV", "cross_view", (86.4, None), (87.9, None)),
    ("Smarthome CV2, K400-pretrained", "cross_view", (69.3, 37.5), (71.9, 41.7)),
]


@dataclass
class ActionBenchConfig:
    """Which runs the suite makes (the preset's ``action.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["timesformer", "timesformer_faithful", "timesformer_improved"])
    protocols: list[str] = field(default_factory=lambda: ["cross_view", "cross_subject"])
    seeds: list[int] = field(default_factory=lambda: [0])
    # where the networks start: scratch, vantage:<recipe> (pretrained here) or a weights id; the first start is
    # the one the findings read; each other start adds its baselines (no 3DTRL) side by side, as the paper sets
    # TimeSformer from scratch beside Kinetics-400
    starts: list[str] = field(default_factory=lambda: ["scratch"])

    def __post_init__(self) -> None:
        if not self.starts or len(set(self.starts)) != len(self.starts):
            raise ValueError(f"starts must list distinct starts (scratch, vantage:<recipe>, ...), got {self.starts}")
        bad = [v for v in self.variants if v not in MODELS]
        if bad or not self.variants:
            raise ValueError(f"variants {bad or self.variants} invalid; choose from {list(MODELS)}")
        bad = [p for p in self.protocols if p not in PROTOCOL_LABELS]
        if bad or not self.protocols:
            raise ValueError(f"protocols {bad or self.protocols} invalid; choose from {list(PROTOCOL_LABELS)}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def _label(variant: str, start: str, first: bool) -> str:
    """A model's row label: the first start's rows keep the plain label."""
    return MODELS[variant][2] if first else f"{MODELS[variant][2]}, {start} start"


def _key(variant: str, protocol: str, start: str, first: bool) -> str:
    return f"{variant}-{protocol}" if first else f"{variant}@{start.split(':')[-1].split('/')[-1]}-{protocol}"


def _rows(b: ActionBenchConfig) -> list[dict[str, Any]]:
    """One row per (protocol, start, variant): its key, report name, model label and training fields."""
    out = []
    for p in b.protocols:
        for i, start in enumerate(b.starts):
            for v in b.variants:
                arch, trl, _ = MODELS[v]
                if i and trl != "none":
                    continue
                label = _label(v, start, i == 0)
                weights = None if start == "scratch" else start
                fields = {"arch": arch, "trl3d": trl, "protocol": p, "pretrained": weights}
                base = next((k for k in b.variants if MODELS[k][:2] == (arch, "none")), None)
                out.append(
                    {
                        "key": _key(v, p, start, i == 0),
                        "name": f"{label} [{PROTOCOL_LABELS[p]}]",
                        "model": label,
                        "protocol": p,
                        "fields": fields,
                        "base": None if trl == "none" or base is None else _key(base, p, start, True),
                    }
                )
    return out


@register_method
class ActionMethod(MethodPlugin):
    """Action recognition with a video transformer (+3DTRL), tested on cameras or actors never trained on."""

    name = "action"
    title = "Cross-view action recognition (video transformers)"
    section = "action"
    parts: ClassVar[dict[str, type]] = {"data": VideoConfig, "train": ActionTrainConfig, "eval": ActionEvalConfig,
                                        "bench": ActionBenchConfig}  # fmt: skip
    claims = (
        Claim("TimeSformer +3DTRL improved: cross-view top-1", ("timesformer_improved-cross_view", "top1"),
              "+3.5 (Smarthome CV2), +1.5 (NTU CV)", legacy=("TimeSformer +3DTRL improved [cross-view]", "top1"),
              competence=COMPETENCE, chance="chance_top1"),
        Claim("TimeSformer +3DTRL improved: cross-view mean per-class",
              ("timesformer_improved-cross_view", "mean_class"), "+6.5 (Smarthome CV2)",
              legacy=("TimeSformer +3DTRL improved [cross-view]", "mean_class"), competence=COMPETENCE,
              chance="chance_top1"),
        Claim("TimeSformer +3DTRL improved: cross-subject top-1", ("timesformer_improved-cross_subject", "top1"),
              "+0.4 (Smarthome CS)", legacy=("TimeSformer +3DTRL improved [cross-subject]", "top1"),
              competence=COMPETENCE, chance="chance_top1"),
    )  # fmt: skip
    train_commands = (
        TrainCommand("action", train_action, run_name="{arch}-{trl3d}-{protocol}-seed{seed}",
                     flags={"trl3d": ("--3dtrl",)},
                     help="Action recognition: a video classifier (+3DTRL) trained on the training side of a "
                     "cross-view or cross-subject protocol (settings: the preset's action.train, then these "
                     "options).", data_help="A built action dataset (default: the preset's)."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("action", help="Top-1 and mean per-class accuracy on the test side of the checkpoint's protocol, "
                    "per test camera (with its angle from the nearest training camera) and per actor.",
                    flags={"clips_per_sequence": ("--clips",)},
                    data_help="A built action dataset (default: the preset's).", extras=(
            Option("checkpoint", Path, ..., "A `vantage train action` checkpoint."),
            Option("figure", Path | None, None, "PNG: accuracy per test camera vs its angle to the nearest "
                   "training camera."))),
    )  # fmt: skip

    def dataset(self, ctx: BenchContext, s: Settings) -> Path:
        """Build or reuse the preset's action videos (its ``action.data`` section)."""
        from vantage.data.video import build_video_dataset

        res = build_video_dataset(s["data"], workers=ctx.workers, progress=ctx.progress)
        ctx.memo["action_build"] = {"root": str(res.root), "rendered": res.rendered, "seconds": round(res.seconds, 2)}
        return res.root

    def variants(self, s: Settings) -> list[Variant]:
        return [Variant(r["name"], r["key"], r["fields"], r["base"]) for r in _rows(s["bench"])]

    def run_eval(self, spec: EvalCommand, cfg: ActionEvalConfig, values: dict[str, Any]) -> None:
        from vantage.bench.output import print_and_save
        from vantage.data.actions import camera_distances
        from vantage.data.video import resolve_video_root
        from vantage.eval.action import evaluate_action
        from vantage.models import resolve_device
        from vantage.train.action import action_data, load_action_model

        ckpt, figure = values["checkpoint"], values["figure"]
        dev = resolve_device(values["device"])
        module, mcfg = load_action_model(ckpt)
        module.to(dev)
        root = resolve_video_root(values["data"], values["preset"], "action.data")
        test = action_data(root, mcfg, "test", cfg.clips_per_sequence)
        res = evaluate_action(module, test, camera_distances(test.split), cfg, module.classes)
        if figure is not None:
            from vantage.report import accuracy_vs_distance

            points = {c: (v["distance_deg"], v["top1"], 0.0) for c, v in res["per_camera"].items()}
            accuracy_vs_distance({ckpt.parent.parent.name: points}, figure, f"{mcfg.protocol} test cameras")
        shown = {k: res[k] for k in ("top1", "mean_class", "clips", "per_camera", "per_actor")}
        print_and_save(shown, values["out"], {"checkpoint": str(ckpt), "protocol": mcfg.protocol, **res})
        if figure is not None:
            print(f"wrote {figure}")

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        from vantage.data.video import resolve_video_root

        return resolve_video_root(data, preset, "action.data")

    def eval_key(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained) -> dict[str, Any]:
        return {"eval": to_dict(s["eval"]), "seed": seed}

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        from vantage.data.actions import camera_distances
        from vantage.eval.action import evaluate_action
        from vantage.train.action import action_data, load_action_model

        module, cfg = load_action_model(trained.path)
        module.to(ctx.device)
        ev: ActionEvalConfig = s["eval"]
        test = action_data(root, cfg, "test", ev.clips_per_sequence)
        res = evaluate_action(module, test, camera_distances(test.split), ev, module.classes)
        confusion, classes = res.pop("confusion"), res.pop("classes")
        return Evaluation(res, {"confusion": confusion}, {"classes": classes})

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        return {k: table[k] for k in ("top1", "mean_class") if k in table}

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        b: ActionBenchConfig = s["bench"]
        rec = grid.record()
        rows = [{k: r[k] for k in ("key", "name", "model", "protocol")} for r in _rows(b)]
        classes = next((r.get("classes") for r in grid.runs.values() if r.get("classes")), [])
        return {
            "data": ctx.memo.get("action_build", {}),
            "data_config": to_dict(s["data"]),
            "train_config": s.raw["train"],
            "eval_config": to_dict(s["eval"]),
            "bench_config": to_dict(b),
            "rows": rows,
            "classes": classes,
            "chance_top1": 100.0 / len(classes) if classes else None,
            **rec,
            "plots": self._plots(ctx, rec, rows, len(classes)),
        }

    def _plots(self, ctx: BenchContext, rec: dict[str, Any], rows: list[dict], n_classes: int) -> dict[str, str]:
        """Cross-view top-1 per test camera against its angle from the nearest training camera (mean ± std)."""
        from vantage.report import accuracy_vs_distance

        series = {}
        for r in rows:
            cams = rec["table"].get(r["key"], {}).get("per_camera", {})
            if r["protocol"] != "cross_view" or not cams:
                continue
            series[r["model"]] = {c: (_mean(v.get("distance_deg")), _mean(v.get("top1")), _std(v.get("top1")))
                                  for c, v in cams.items()}  # fmt: skip
        if not series:
            return {}
        chance = 100.0 / n_classes if n_classes else None
        accuracy_vs_distance(series, ctx.out / "action_distance.png", "cross-view: unseen test cameras", chance=chance)
        return {"distance": "action_distance.png"}

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        table, rows = res.get("table", {}), res.get("rows", [])
        protocols = list(dict.fromkeys(r["protocol"] for r in rows))
        models = list(dict.fromkeys(r["model"] for r in rows))
        n = len(res.get("classes", []))
        blocks: list[Any] = [
            Text(
                f"Top-1 and mean per-class accuracy (%) on clips from cameras (cross-view) or actors (cross-subject) "
                f"never trained on, mean ± std over seeds {seeds}; {n} classes"
                + (f" (chance {100 / n:.1f} %)." if n else ".")
            )
        ]
        head = ["model", *(f"{PROTOCOL_LABELS[p]} {m}" for p in protocols for m in ("top-1", "mean class"))]
        body = [[m, *(fmt_mean_std(table.get(f"{m} [{PROTOCOL_LABELS[p]}]", {}).get(k), 1)
                      for p in protocols for k in ("top1", "mean_class"))] for m in models]  # fmt: skip
        blocks.append(Table(head, body))
        deltas = res.get("deltas", {})
        if deltas:
            body = [[k, fmt_signed(d.get("top1"), 1), fmt_signed(d.get("mean_class"), 1)] for k, d in deltas.items()]
            blocks.append(Table(["model", "Δ top-1", "Δ mean class"], body, title="minus the same model without 3DTRL"))
        blocks += self._camera_table(table, [r for r in rows if r["protocol"] == "cross_view"])
        paper = [[name, PROTOCOL_LABELS[p], *(_arrow(a, b) for a, b in zip(base, trl, strict=True))]
                 for name, p, base, trl in PAPER]  # fmt: skip
        blocks.append(Table(["paper (TimeSformer -> +3DTRL)", "protocol", "top-1", "mean class"], paper))
        caption = "Cross-view accuracy vs angle to the training cameras"
        blocks.append(Figure(res.get("plots", {}).get("distance"), caption))
        cfg = {**res.get("train_config", {}), **{f"data.{k}": v for k, v in res.get("data", {}).items()}}
        blocks.append(KeyValues(cfg, "configuration", collapsed=True))
        return Section(f"{self.title} (seeds {seeds})", blocks)

    @staticmethod
    def _camera_table(table: dict[str, Any], rows: list[dict]) -> list[Table]:
        """Cross-view top-1 per test camera, the header giving each camera's angle to the nearest training one."""
        per = {r["model"]: table.get(r["name"], {}).get("per_camera", {}) for r in rows}
        cams = list(dict.fromkeys(c for p in per.values() for c in p))
        if not cams:
            return []
        dist = {c: next((_mean(p[c].get("distance_deg")) for p in per.values() if c in p), None) for c in cams}
        head = ["model", *(c if dist[c] is None else f"{c} ({dist[c]:.0f}°)" for c in cams)]
        body = [[m, *(fmt_mean_std(p.get(c, {}).get("top1"), 1) for c in cams)] for m, p in per.items()]
        return [Table(head, body, title="cross-view top-1 per test camera (angle to the nearest training camera)")]


def _arrow(a: float | None, b: float | None) -> str:
    return "-" if a is None else f"{a} -> {b}"


def _mean(leaf: Any) -> float | None:
    return leaf["mean"] if isinstance(leaf, dict) else leaf if isinstance(leaf, int | float) else None


def _std(leaf: Any) -> float:
    return leaf["std"] if isinstance(leaf, dict) else 0.0
