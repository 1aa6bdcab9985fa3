"""Zero-shot viewpoint benchmark for CLIP models (`vantage eval zeroshot`).

Class-name prompt ensembles (open_clip's 80 ImageNet templates; template embeddings averaged after
normalisation) classify held-out objects (the test split's in-domain categories) under:

- **clean**: the near-front ``canonical`` views;
- **2D shift**: the same images in greyscale, blurred, as edge sketches, and on a changed background;
- **viewpoint shift**: unseen poses over the whole sphere (``fib100``), and a worst-case view per object in
  the spirit of ViewFool (the lowest-scoring of all its rendered candidate views);
- **real data**: COIL-20 retrieval of an object's other views across azimuth (its names are not categories,
  so it is scored by retrieval, not classification).

Top-1 / top-5 per set, group averages, and per-viewpoint accuracy for sphere plots.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vantage.data.schema import inside
from vantage.eval.features import ImageBank, load_image_bank
from vantage.eval.metrics import per_view_accuracy

__all__ = [
    "SHIFTS_2D",
    "ZEROSHOT_COLUMNS",
    "ZEROSHOT_GROUPS",
    "ZeroShotConfig",
    "ZeroShotData",
    "coil20_retrieval",
    "load_zeroshot_data",
    "shift_2d",
    "zero_shot_classifier",
    "zeroshot_benchmark",
    "zeroshot_table_rows",
]

SHIFTS_2D = ("greyscale", "blur", "sketch", "background")
ZEROSHOT_GROUPS = {
    "clean": ("clean",),
    "2d_shift": SHIFTS_2D,
    "viewpoint": ("sphere", "worst_view"),
    "real": ("coil20_retrieval",),
}


@dataclass
class ZeroShotConfig:
    """What the benchmark scores: held-out ``split`` objects of the in-domain categories."""

    split: str = "test"
    clean_view_set: str = "canonical"
    sphere_view_set: str = "fib100"
    worst_view_sets: list[str] = field(default_factory=lambda: ["canonical", "fib50", "fib100"])
    templates: str = "openai"  # openai (80 templates) | simple
    batch_size: int = 256
    seed: int = 0
    coil20_bins: list[float] = field(default_factory=lambda: [0, 45, 90, 135, 180])


@dataclass
class ZeroShotData:
    """Decoded evaluation images (one :class:`ImageBank` per set at the model's resolution) and masks."""

    classes: list[str]
    clean: ImageBank
    clean_mask: torch.Tensor
    sphere: ImageBank
    candidates: ImageBank
    real: dict[str, ImageBank]  # name -> real set (``coil20`` first when given); scored as "<name>_retrieval"


def _templates(kind: str) -> Sequence[Any]:
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

    if kind not in ("openai", "simple"):
        raise ValueError(f"templates must be openai or simple, got {kind!r}")
    return OPENAI_IMAGENET_TEMPLATES if kind == "openai" else SIMPLE_IMAGENET_TEMPLATES


@torch.no_grad()
def zero_shot_classifier(model: Any, tokenizer: Any, classes: Sequence[str], templates: str = "openai") -> torch.Tensor:
    """(D, C) class weights: per class, the normalised mean of its normalised template embeddings."""
    from open_clip import build_zero_shot_classifier

    from vantage.models import module_device

    names = [c.replace("_", " ") for c in classes]
    weights = build_zero_shot_classifier(model, tokenizer, names, _templates(templates), num_classes_per_batch=None,
                                         device=module_device(model))  # fmt: skip
    return weights.float().cpu()


def _masks(root: Path, records: Sequence[Any], size: int) -> torch.Tensor:
    """Foreground masks (N, 1, S, S) from depth > 0 (or mask files), resized to ``size``."""
    from PIL import Image

    out = []
    for r in records:
        if r.mask_file is not None:
            m = np.asarray(Image.open(inside(root, r.mask_file))) > 127
        elif r.depth_file is not None:
            m = np.load(inside(root, r.depth_file)) > 0
        else:
            raise ValueError(f"{root}: row {r.file_name} has neither mask nor depth (needed for the background shift)")
        out.append(torch.from_numpy(m.astype(np.float32)))
    masks = torch.stack(out)[:, None]
    return F.interpolate(masks, size=(size, size), mode="area") if masks.shape[-1] != size else masks


def load_zeroshot_data(root: str | Path, size: int, cfg: ZeroShotConfig, coil20: str | Path | None = None,
                       workers: int = 4, real: dict[str, str | Path] | None = None) -> ZeroShotData:  # fmt: skip
    """Decode the benchmark's images from a built dataset (and each real set: ``coil20`` and ``real``, name ->
    folder, imported or turntable) at ``size`` pixels."""
    from vantage.data import load_card, load_real_records, load_records
    from vantage.data.read import filter_records
    from vantage.eval.pose_ssl import real_sets

    root = Path(root)
    classes = list(load_card(root).get("categories", {}).get("in", []))
    rows = filter_records(load_records(root), split=cfg.split, domain="in")
    pick = lambda vs: [r for r in rows if r.view_set in vs]  # noqa: E731
    clean_rows = pick({cfg.clean_view_set})
    banks = {}
    for name, chosen in (("clean", clean_rows), ("sphere", pick({cfg.sphere_view_set})),
                         ("candidates", pick(set(cfg.worst_view_sets)))):  # fmt: skip
        if not chosen:
            raise ValueError(f"{root}: no {cfg.split} in-domain rows for the {name} set")
        banks[name] = load_image_bank(root, chosen, size, classes, workers)
    reals = {}
    for name, folder in real_sets(coil20, real).items():
        rows = load_real_records(folder)
        reals[name] = load_image_bank(folder, rows, size, sorted({r.category for r in rows}), workers)
    return ZeroShotData(classes, banks["clean"], _masks(root, clean_rows, size), banks["sphere"],
                        banks["candidates"], reals)  # fmt: skip


def shift_2d(images: torch.Tensor, kind: str, mask: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """A 2D distribution shift of images (N, 3, S, S) in [0, 1]: ``greyscale``, ``blur`` (Gaussian, sigma S/32
    x 1.5), ``sketch`` (dark Sobel edges on white), ``background`` (the pixels outside ``mask`` replaced by a
    smooth random colour field, seeded)."""
    import kornia

    s = images.shape[-1]
    if kind == "greyscale":
        return kornia.color.rgb_to_grayscale(images).expand_as(images).contiguous()
    if kind == "blur":
        sigma = 1.5 * s / 32
        k = 2 * int(2 * sigma) + 1
        return kornia.filters.gaussian_blur2d(images, (k, k), (sigma, sigma))
    if kind == "sketch":
        grad = kornia.filters.spatial_gradient(kornia.color.rgb_to_grayscale(images))  # (N, 1, 2, S, S), Sobel
        edges = grad.pow(2).sum(2).sqrt()
        edges = edges / edges.flatten(1).amax(1).clamp_min(0.05)[:, None, None, None]  # flat image: no strokes
        return (1 - edges.clamp(0, 1)).expand_as(images).contiguous()
    if kind == "background":
        if mask is None:
            raise ValueError("the background shift needs foreground masks")
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(images.shape[0], 3, 4, 4, generator=g)
        field_ = F.interpolate(coarse, size=images.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
        return mask * images + (1 - mask) * field_
    raise ValueError(f"unknown 2D shift {kind!r}; one of {SHIFTS_2D}")


@torch.no_grad()
def _embed(model: Any, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """L2-normalised image embeddings (N, D) on CPU; the model runs on its own device."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    from vantage.models import module_device

    dev = module_device(model)
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    out = [model.encode_image(((images[i : i + batch_size] - mean) / std).to(dev)).float().cpu()
           for i in range(0, len(images), batch_size)]  # fmt: skip
    return F.normalize(torch.cat(out), dim=-1)


def _topk(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image top-1 and top-5 correctness (bool)."""
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return top[:, 0] == labels, (top == labels[:, None]).any(1)


def coil20_retrieval(emb: torch.Tensor, obj: torch.Tensor, azimuth: torch.Tensor, bins: Sequence[float]) -> dict:
    """Top-1 retrieval of the same object across azimuth: for each query and each bin (lo, hi] of azimuth
    difference, the gallery is every other image whose azimuth differs from the query's by that much; a hit
    when the nearest one shows the query's object. Returns per-bin accuracy and their mean."""
    sim = emb @ emb.T
    diff = (azimuth[:, None] - azimuth[None, :]).abs() % 360
    diff = torch.minimum(diff, 360 - diff)
    same = obj[:, None] == obj[None, :]
    eye = torch.eye(len(emb), dtype=torch.bool)
    per_bin = {}
    for lo, hi in itertools.pairwise(bins):
        allowed = (diff > lo) & (diff <= hi) & ~eye
        has = allowed.any(1) & (allowed & same).any(1)
        nearest = sim.masked_fill(~allowed, float("-inf")).argmax(1)
        hit = same[torch.arange(len(emb)), nearest] & has
        per_bin[f"{lo:g}-{hi:g}"] = float(hit[has].float().mean()) if has.any() else float("nan")
    return {"top1": float(np.nanmean(list(per_bin.values()))), "per_bin": per_bin}


@torch.no_grad()
def zeroshot_benchmark(
    model: Any,
    tokenizer: Any,
    data: ZeroShotData,
    cfg: ZeroShotConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score a CLIP-like model (``encode_image``/``encode_text``) on every set; returns ``sets`` (top1/top5 in
    %), ``groups`` (averages of top-1), ``per_view`` (sphere accuracy per viewpoint) and ``view_dirs``."""
    cfg = cfg or ZeroShotConfig()
    model.eval()
    say = progress or (lambda _m: None)
    weights = zero_shot_classifier(model, tokenizer, data.classes, cfg.templates)
    sets: dict[str, dict[str, float]] = {}

    def score(name: str, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        say(name)
        logits = _embed(model, images, cfg.batch_size) @ weights
        t1, t5 = _topk(logits, labels)
        sets[name] = {"top1": 100 * float(t1.float().mean()), "top5": 100 * float(t5.float().mean())}
        return logits, t1

    score("clean", data.clean.images, data.clean.category)
    for kind in SHIFTS_2D:
        score(kind, shift_2d(data.clean.images, kind, data.clean_mask, cfg.seed), data.clean.category)
    _, sphere_hit = score("sphere", data.sphere.images, data.sphere.category)
    logits, _ = score("candidates", data.candidates.images, data.candidates.category)
    sets.pop("candidates")
    labels, objs = data.candidates.category, data.candidates.object
    true = logits.gather(1, labels[:, None])[:, 0]
    margin = true - logits.scatter(1, labels[:, None], float("-inf")).max(1).values
    n_obj = int(objs.max()) + 1
    worst_margin = torch.full((n_obj,), float("inf")).scatter_reduce(0, objs, margin, "amin")
    rank = (logits > true[:, None]).sum(1)  # classes scored above the true one
    worst_top5 = torch.zeros(n_obj, dtype=torch.long).scatter_reduce(0, objs, rank, "amax") < 5
    sets["worst_view"] = {"top1": 100 * float((worst_margin > 0).float().mean()),
                          "top5": 100 * float(worst_top5.float().mean())}  # fmt: skip
    for name, bank in data.real.items():
        say(name)
        emb = _embed(model, bank.images, cfg.batch_size)
        ret = coil20_retrieval(emb, bank.object, bank.azimuth, cfg.coil20_bins)
        sets[f"{name}_retrieval"] = {"top1": 100 * ret["top1"],
                                     **{f"top1@{k}": 100 * v for k, v in ret["per_bin"].items()}}  # fmt: skip
    members = {**ZEROSHOT_GROUPS, "real": tuple(f"{n}_retrieval" for n in data.real)}
    groups = {
        g: float(np.mean([sets[s]["top1"] for s in names if s in sets]))
        for g, names in members.items()
        if any(s in sets for s in names)
    }
    per_view = per_view_accuracy(sphere_hit, data.sphere.view_id).tolist()
    dirs = _view_dirs(data.sphere)
    return {"sets": sets, "groups": groups, "per_view": per_view, "view_dirs": dirs, "classes": data.classes}


def _view_dirs(bank: ImageBank) -> list[list[float]]:
    n = int(bank.view_id.max()) + 1
    dirs = torch.zeros(n, 3)
    dirs[bank.view_id] = bank.direction
    return dirs.tolist()


ZEROSHOT_COLUMNS = {
    "clean": "sets/clean",
    "grey": "sets/greyscale",
    "blur": "sets/blur",
    "sketch": "sets/sketch",
    "background": "sets/background",
    "2D avg": "groups/2d_shift",
    "sphere (Fib100)": "sets/sphere",
    "worst view": "sets/worst_view",
    "viewpoint avg": "groups/viewpoint",
    "COIL-20 retrieval": "groups/real",
}


def zeroshot_table_rows(table: dict[str, Any], fmt: Callable[[Any], str], order: Sequence[str] | None = None,
                        deltas: dict[str, Any] | None = None) -> list[list[str]]:  # fmt: skip
    """Rows (model, then one cell per :data:`ZEROSHOT_COLUMNS`) of an aggregated top-1 table; with ``deltas``
    (variant minus base), a second row per variant holds them."""

    def cell(node: Any, path: str) -> Any:
        for part in path.split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node.get("top1", node) if isinstance(node, dict) and "top1" in node else node

    rows = []
    for name in [n for n in (order or list(table)) if n in table]:
        rows.append([name, *(fmt(cell(table[name], p)) for p in ZEROSHOT_COLUMNS.values())])
        if deltas and name in deltas:
            d = deltas[name]
            rows.append(["  Δ vs base", *(_signed(cell(d, p)) for p in ZEROSHOT_COLUMNS.values())])
    return rows


def _signed(leaf: Any) -> str:
    return f"{leaf['mean']:+.1f}" if isinstance(leaf, dict) and "mean" in leaf else "-"
