"""The semantic + pose benchmark of pose-aware SSL (`vantage eval pose-ssl`), for any encoder and feature tap.

Scenarios (rows of the built dataset; in-domain categories are the training ones):

* **semantics**: linear probe and weighted kNN top-1 over the in-domain categories (train objects -> test
  objects, Fib(50) views);
* **in_domain**: absolute pose by per-category kNN over the Fib(50) view index, and relative pose of test-object
  pairs by a probe trained on train-object pairs;
* **unseen_poses**: the same with test objects at Fib(100) views (poses never trained on);
* **unseen_categories**: out-of-domain objects (absolute pose: half of each category's objects as the bank);
* **real sets** (``coil20`` by default, or any ``--real name=path``: an imported contract folder or a turntable
  folder): relative azimuth between two views of one real object, probe trained on half the objects, tested on
  the rest, with features of a model trained on rendered data only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.data.schema import DatasetError, load_card, load_records
from vantage.eval.features import ImageBank, extract_features, load_image_bank
from vantage.eval.knn import knn_top1
from vantage.eval.metrics import per_view_accuracy
from vantage.eval.pose import PoseScores, absolute_pose_knn
from vantage.eval.probes import (
    Standardizer,
    linear_probe,
    relative_azimuth_targets,
    relative_rotation_targets,
    sample_pairs,
    score_pair_probe,
    train_pair_probe,
)
from vantage.geometry import fibonacci_sphere
from vantage.models.backbones import FeatureExtractor, random_projection

__all__ = ["PoseEvalConfig", "PoseEvalData", "PoseEvalResult", "evaluate_pose_ssl", "load_pose_eval_data"]


@dataclass
class PoseEvalConfig:
    """Settings of the benchmark. kNN follows the paper (k 200, exp(sim / 0.1) votes, flattened maps with
    per-channel spatial L2 norm); probes see maps randomly projected to ``probe_dim`` (see docs/pose_ssl.md)."""

    taps: list[str] = field(default_factory=lambda: ["pooled", "conv3", "conv4"])
    image_size: int | None = None  # None: the resolution the model was trained at (see eval_image_size)
    batch_size: int = 256
    knn_k: int = 200
    knn_temperature: float = 0.1
    probe_dim: int = 512
    linear_steps: int = 500
    pair_steps: int = 1000
    pair_hidden: int = 512
    pairs_per_object: int = 100
    relative_bins: int = 50
    coil20_bins: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.taps:
            raise ValueError("taps must name at least one feature tap")
        if min(self.image_size or 1, self.batch_size, self.knn_k, self.probe_dim, self.relative_bins) < 1:
            raise ValueError("image_size, batch_size, knn_k, probe_dim and relative_bins must be >= 1")


@dataclass
class PoseEvalData:
    """Decoded images of every scenario, loaded once and reused for any number of encoders."""

    banks: dict[str, ImageBank]
    view_dirs: torch.Tensor  # (50, 3): Fib(50) direction of each view index
    in_classes: list[str]
    root: Path
    real: dict[str, Path] = field(default_factory=dict)  # name -> folder; banks["real:<name>"]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class PoseEvalResult:
    """Per-tap tables (JSON-able), arrays for plots, and timings."""

    table: dict[str, dict[str, Any]]
    arrays: dict[str, np.ndarray]
    seconds: dict[str, float]


def _view_dirs(bank: ImageBank) -> torch.Tensor:
    n = int(bank.view_id.max()) + 1
    dirs = torch.zeros(n, 3)
    dirs[bank.view_id] = bank.direction
    spread = (bank.direction - dirs[bank.view_id]).norm(dim=1).max().item()
    if spread > 1e-3:
        raise DatasetError("view indices of the fib50 view set do not mean the same direction for every object")
    return dirs


SCENARIOS = ("semantics", "in_domain", "unseen_poses", "unseen_categories")


def real_sets(coil20: str | Path | None = None, real: dict[str, str | Path] | None = None) -> dict[str, Path]:
    """The named real sets to score: ``coil20`` (when a path is given) and every ``real`` entry; names must not
    clash with the rendered scenarios."""
    out = {"coil20": Path(coil20)} if coil20 is not None else {}
    for name, path in (real or {}).items():
        if name in SCENARIOS or name in out or not name:
            raise ValueError(f"real set name {name!r} is empty, repeated or a scenario name ({', '.join(SCENARIOS)})")
        out[name] = Path(path)
    return out


def load_pose_eval_data(
    root: str | Path, cfg: PoseEvalConfig, coil20: str | Path | None = None, progress: bool = False,
    real: dict[str, str | Path] | None = None,
) -> PoseEvalData:  # fmt: skip
    """Select and decode the scenario images of a built dataset, and of each real set (``coil20`` and ``real``:
    name -> folder), at ``cfg.image_size`` (resolve it with :func:`eval_image_size` first)."""
    from vantage.data import filter_records, load_real_records

    if cfg.image_size is None:
        raise ValueError("PoseEvalConfig.image_size is unset: resolve it with eval_image_size(...) first")

    root = Path(root)
    records = load_records(root)
    card = load_card(root)
    in_classes = list(card.get("categories", {}).get("in", []))
    classes = in_classes + list(card.get("categories", {}).get("out", []))
    wanted = {
        "train": dict(split="train", domain="in", view_set="fib50"),
        "test50": dict(split="test", domain="in", view_set="fib50"),
        "test100": dict(split="test", domain="in", view_set="fib100"),
        "ood50": dict(domain="out", view_set="fib50"),
    }
    banks: dict[str, ImageBank] = {}
    skipped: dict[str, str] = {}
    for name, filt in wanted.items():
        rows = filter_records(records, **filt)
        if not rows:
            if name in ("train", "test50"):
                raise DatasetError(f"{root} has no rows with {filt}: the pose benchmark needs them")
            skipped[name] = f"no rows with {filt} in {root}"
            continue
        if progress:
            print(f"loading {len(rows)} images ({name})", flush=True)
        banks[name] = load_image_bank(root, rows, cfg.image_size, classes)
    sets = real_sets(coil20, real)
    for name, folder in sets.items():
        rows = load_real_records(folder)
        if len({r.object_id for r in rows}) < 2:
            skipped[name] = f"{folder} has fewer than two objects (the probe is fitted on half of them)"
            continue
        banks[f"real:{name}"] = load_image_bank(folder, rows, cfg.image_size, sorted({r.category for r in rows}))
    return PoseEvalData(banks, _view_dirs(banks["train"]), in_classes, root, sets, skipped)


def _split_objects_in_half(bank: ImageBank) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks: per category, objects ranked even -> first mask, odd -> second (categories with one object
    are dropped)."""
    first = torch.zeros(len(bank), dtype=torch.bool)
    second = torch.zeros(len(bank), dtype=torch.bool)
    for c in torch.unique(bank.category).tolist():
        objs = torch.unique(bank.object[bank.category == c])
        if objs.numel() < 2:
            continue
        first |= torch.isin(bank.object, objs[0::2])
        second |= torch.isin(bank.object, objs[1::2])
    return first, second


def _probe_features(x: torch.Tensor, cfg: PoseEvalConfig) -> torch.Tensor:
    return x if x.shape[1] <= cfg.probe_dim else random_projection(x, cfg.probe_dim, cfg.seed)


def _evaluate_tap(
    feats: dict[str, torch.Tensor], data: PoseEvalData, cfg: PoseEvalConfig, tap: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    b = data.banks
    tr, te = b["train"], b["test50"]
    n_in = len(data.in_classes)
    out: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    knn = dict(k=cfg.knn_k, temperature=cfg.knn_temperature)
    probe = {name: _probe_features(f, cfg) for name, f in feats.items()}
    std = Standardizer(probe["train"])
    probe = {name: std(f) if not name.startswith("real:") else f for name, f in probe.items()}

    # semantics
    lin = linear_probe(probe["train"], tr.category, probe["test50"], te.category, n_in, cfg.linear_steps, seed=cfg.seed)
    knn_hit = (knn_top1(feats["test50"], feats["train"], tr.category, n_in, **knn) == te.category).float()
    sem_view = per_view_accuracy(knn_hit, te.view_id, data.view_dirs.shape[0])
    seen = torch.zeros(data.view_dirs.shape[0], dtype=torch.bool).index_fill_(0, te.view_id, True)
    out["semantics"] = {"linear_top1": round(100 * lin, 2), "knn_top1": round(100 * knn_hit.mean().item(), 2),
                        "knn_worst_view_top1": round(100 * sem_view[seen].min().item(), 2)}  # fmt: skip
    arrays[f"{tap}/semantics/per_view_knn_top1"] = sem_view.numpy()

    # absolute pose
    def abs_pose(bank_f: torch.Tensor, bank: ImageBank, query_f: torch.Tensor, query: ImageBank) -> PoseScores:
        return absolute_pose_knn(
            bank_f, bank.view_id, bank.category, query_f, query.direction, query.category, data.view_dirs, **knn
        )

    s = abs_pose(feats["train"], tr, feats["test50"], te)
    out["in_domain"] = {"absolute": s.as_dict()}
    per_view = per_view_accuracy(s.correct, te.view_id, data.view_dirs.shape[0])
    arrays[f"{tap}/in_domain/per_view_top1"] = per_view.numpy()
    arrays[f"{tap}/in_domain/errors_deg"] = s.errors_deg.numpy()
    if "test100" in b:
        s = abs_pose(feats["train"], tr, feats["test100"], b["test100"])
        out["unseen_poses"] = {"absolute": s.as_dict()}
        arrays[f"{tap}/unseen_poses/errors_deg"] = s.errors_deg.numpy()
        arrays[f"{tap}/unseen_poses/directions"] = b["test100"].direction.numpy()
    if "ood50" in b:
        ood = b["ood50"]
        half_a, half_b = _split_objects_in_half(ood)
        if half_a.any():
            s = abs_pose(feats["ood50"][half_a], ood.subset(half_a), feats["ood50"][half_b], ood.subset(half_b))
            out["unseen_categories"] = {"absolute": s.as_dict()}
            arrays[f"{tap}/unseen_categories/errors_deg"] = s.errors_deg.numpy()
        else:
            out["unseen_categories"] = {"absolute": {"skipped": "needs >= 2 objects per out-of-domain category"}}

    # relative pose: one probe trained on train-object pairs, scored on each scenario's held-out pairs
    bins = torch.tensor(fibonacci_sphere(cfg.relative_bins), dtype=torch.float32)
    rel_probe = train_pair_probe(
        probe["train"],
        tr.object,
        lambda p: relative_rotation_targets(tr.rotation, p, bins),
        cfg.pair_hidden,
        cfg.pair_steps,
        seed=cfg.seed,
    )
    for scenario, name in (("in_domain", "test50"), ("unseen_poses", "test100"), ("unseen_categories", "ood50")):
        if name not in b:
            continue
        q = b[name]
        p = sample_pairs(q.object, cfg.pairs_per_object, cfg.seed + 1)
        scores = score_pair_probe(rel_probe, probe[name], p, relative_rotation_targets(q.rotation, p, bins))
        out.setdefault(scenario, {})["relative"] = scores.as_dict()

    # real sets: relative azimuth (and, where every row has a camera pose, relative rotation), probes fitted on
    # half the objects and scored on the other half
    for key in (k for k in b if k.startswith("real:")):
        coil = b[key]
        objs = torch.arange(len(coil.objects))
        fit, held = torch.isin(coil.object, objs[0::2]), torch.isin(coil.object, objs[1::2])
        cstd = Standardizer(probe[key][fit])
        cf = cstd(probe[key])
        held_idx = held.nonzero().squeeze(1)
        p_held = held_idx[sample_pairs(coil.object[held], cfg.pairs_per_object * 4, cfg.seed + 1)]
        cprobe = train_pair_probe(
            cf[fit],
            coil.object[fit],
            lambda p, az=coil.azimuth[fit]: relative_azimuth_targets(az, p, cfg.coil20_bins),
            cfg.pair_hidden,
            cfg.pair_steps,
            seed=cfg.seed,
        )
        targets = relative_azimuth_targets(coil.azimuth, p_held, cfg.coil20_bins)
        scores = {"relative_azimuth": score_pair_probe(cprobe, cf, p_held, targets).as_dict()}
        if coil.posed:  # full camera poses: relative rotation with the same probe as rendered data
            rprobe = train_pair_probe(
                cf[fit],
                coil.object[fit],
                lambda p, rot=coil.rotation[fit]: relative_rotation_targets(rot, p, bins),
                cfg.pair_hidden,
                cfg.pair_steps,
                seed=cfg.seed,
            )
            rtargets = relative_rotation_targets(coil.rotation, p_held, bins)
            scores["relative_rotation"] = score_pair_probe(rprobe, cf, p_held, rtargets).as_dict()
        out[key.removeprefix("real:")] = scores
    return out, arrays


def evaluate_pose_ssl(
    extractor: FeatureExtractor,
    data: PoseEvalData,
    cfg: PoseEvalConfig,
    taps: Sequence[str] | None = None,
    progress: bool = False,
) -> PoseEvalResult:
    """Every scenario for every tap of one frozen encoder; ``table[tap][scenario][metric]``."""
    taps = list(taps or cfg.taps)
    extractor.check_taps(taps)  # unknown taps fail before any work
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    feats: dict[str, dict[str, torch.Tensor]] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(b) for b in data.banks.values()), desc="features", unit="img")
    torch.manual_seed(cfg.seed)
    for name, bank in data.banks.items():
        for tap, f in extract_features(
            extractor, bank.images, taps, "flatten", cfg.batch_size, progress=bar.update if bar else None
        ).items():
            feats.setdefault(tap, {})[name] = f
    if bar is not None:
        bar.close()
    seconds["features"] = time.perf_counter() - start
    table: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for tap in taps:
        t0 = time.perf_counter()
        table[tap], arr = _evaluate_tap(feats[tap], data, cfg, tap)
        table[tap]["dim"] = int(feats[tap]["train"].shape[1])
        arrays.update(arr)
        seconds[f"tap:{tap}"] = time.perf_counter() - t0
    arrays["view_dirs"] = data.view_dirs.numpy()
    seconds["total"] = time.perf_counter() - start
    return PoseEvalResult(table, arrays, {k: round(v, 2) for k, v in seconds.items()})
