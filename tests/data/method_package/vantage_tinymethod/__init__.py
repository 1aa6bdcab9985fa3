"""A whole vantage method in one package: a nearest-centroid classifier on colour histograms, trained on the
canonical views and tested on every view. vantage finds it through the ``vantage.methods`` entry point, so it gets
`vantage train tinymethod`, `vantage eval tinymethod`, a bench suite, report section and findings rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vantage.bench import (
    Claim,
    EvalCommand,
    Evaluation,
    MethodPlugin,
    Option,
    Settings,
    TrainCommand,
    Variant,
    print_and_save,
    register_method,
)
from vantage.config import ConfigError, to_dict
from vantage.data import filter_records, load_records
from vantage.io import atomic_write_json
from vantage.report import Section, Table, fmt_mean_std


@dataclass
class TinyTrainConfig:
    """One run: the feature and how many bins per channel."""

    feature: str = "rgb"  # rgb | gray
    bins: int = 4  # histogram bins per channel
    seed: int = 0
    view_set: str = "canonical"  # the views it learns from

    def __post_init__(self) -> None:
        if self.feature not in ("rgb", "gray"):
            raise ValueError(f"feature must be rgb or gray, got {self.feature!r}")
        if not 1 <= self.bins <= 64:
            raise ValueError(f"bins must be in 1..64, got {self.bins}")


@dataclass
class TinyEvalConfig:
    """What the evaluation scores."""

    view_sets: list[str] = field(default_factory=lambda: ["canonical", "fib100"])
    split: str = "test"


@dataclass
class TinyBenchConfig:
    features: list[str] = field(default_factory=lambda: ["rgb", "gray"])
    seeds: list[int] = field(default_factory=lambda: [0])


def _features(root: Path, rows: list, cfg: TinyTrainConfig) -> np.ndarray:
    out = []
    for r in rows:
        img = np.asarray(Image.open(root / r.file_name).convert("RGB"), dtype=np.float32) / 255.0
        chans = [img.mean(axis=2)] if cfg.feature == "gray" else [img[..., c] for c in range(3)]
        hist = [np.histogram(c, bins=cfg.bins, range=(0, 1))[0] / c.size for c in chans]
        out.append(np.concatenate(hist))
    return np.stack(out)


def train_tiny(cfg: TinyTrainConfig, data: Path, out: Path, progress: bool = True, stop_after: int | None = None,
               overwrite: bool = False) -> Path:  # fmt: skip
    """Class centroids of the training rows' histograms, written to ``<out>/centroids.json``."""
    rows = filter_records(load_records(data), split="train", view_set=cfg.view_set)
    if not rows:
        raise ConfigError(f"{data}: no train rows of view set {cfg.view_set!r}")
    feats, cats = _features(Path(data), rows, cfg), [r.category for r in rows]
    classes = sorted(set(cats))
    centroids = {c: feats[[i for i, k in enumerate(cats) if k == c]].mean(0).tolist() for c in classes}
    path = Path(out) / "centroids.json"
    atomic_write_json(path, {"config": to_dict(cfg), "centroids": centroids})
    return path


def evaluate_tiny(model: Path, data: Path, cfg: TinyEvalConfig) -> dict[str, Any]:
    """Top-1 (%) of the nearest centroid per view set on the ``split`` rows of the trained classes."""
    saved = json.loads(Path(model).read_text())
    tcfg = TinyTrainConfig(**saved["config"])
    classes = sorted(saved["centroids"])
    centroids = np.array([saved["centroids"][c] for c in classes])
    top1 = {}
    for vs in cfg.view_sets:
        rows = filter_records(load_records(data), split=cfg.split, view_set=vs, category=classes)
        if rows:
            feats = _features(Path(data), rows, tcfg)
            pred = np.argmin(((feats[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
            top1[vs] = 100.0 * float(np.mean([classes[p] == r.category for p, r in zip(pred, rows, strict=True)]))
    return {"top1": top1}


@register_method
class TinyMethod(MethodPlugin):
    """Nearest colour-histogram centroid, trained on canonical views."""

    name = "tinymethod"
    title = "Tiny method: colour-histogram centroids"
    section = "tinymethod"
    parts: ClassVar[dict[str, type]] = {"train": TinyTrainConfig, "eval": TinyEvalConfig, "bench": TinyBenchConfig}
    claims = (Claim("gray instead of rgb: top-1 at Fib(100) views", ("gray", "top1", "fib100"), "(none)"),)
    train_commands = (TrainCommand("tinymethod", train_tiny, run_name="{feature}-seed{seed}", prints="model"),)
    eval_commands = (
        EvalCommand("tinymethod", help="Top-1 of the centroids per view set.",
                    extras=(Option("checkpoint", Path, ..., "centroids.json of a `vantage train tinymethod` run."),)),
    )  # fmt: skip
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {"train": {"bins": 2}},
        "default": {"train": {"bins": 4}},
        "paper": {"train": {"bins": 16}, "bench": {"seeds": [0, 1, 2]}},
    }

    def variants(self, s: Settings) -> list[Variant]:
        return [Variant(f, f, {"feature": f}, None if f == "rgb" else "rgb") for f in s["bench"].features]

    def evaluate(self, ctx, s: Settings, v: Variant, seed: int, trained, root: Path) -> Evaluation:
        return Evaluation(evaluate_tiny(trained.path, root, s["eval"]))

    def run_eval(self, spec: EvalCommand, cfg: TinyEvalConfig, values: dict[str, Any]) -> None:
        from vantage.data import resolve_data_root

        root = resolve_data_root(values["data"], values["preset"])
        res = evaluate_tiny(values["checkpoint"], root, cfg)
        print_and_save(res, values["out"], {"checkpoint": str(values["checkpoint"]), **res})

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        table = res.get("table", {})
        sets = sorted({vs for t in table.values() for vs in t.get("top1", {})})
        rows = [[name, *(fmt_mean_std(t["top1"].get(vs)) for vs in sets)] for name, t in table.items()]
        return Section(self.title, [Table(["feature", *sets], rows)])
