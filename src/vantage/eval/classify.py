"""Viewpoint-robust classification: top-1 of a classifier under three test conditions, and 3DTRL pseudo-depth
scored against rendered depth.

Conditions (test objects, never trained on):
* ``seen_views``: the training view range (e.g. the canonical views);
* ``unseen_poses``: Fib(100) over the whole sphere (also reported per viewpoint);
* ``perturbed``: the seen-view images under a random perspective warp with black fill (the paper's
  IN-1K-perturbed recipe; its strength was not published: ``distortion`` is torchvision's
  ``distortion_scale``, default 0.5, one fixed warp per image drawn from ``seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.data.schema import DatasetError, ViewRecord, inside, load_card, load_records
from vantage.eval.features import ImageBank, load_image_bank
from vantage.eval.metrics import per_view_accuracy

__all__ = [
    "ClassifyEval",
    "evaluate_classifier",
    "evaluate_imagefolder",
    "evaluate_pseudo_depth",
    "evaluate_real_classification",
    "perspective_perturb",
    "predict",
    "pseudo_depth_maps",
]


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class indices (N,) of a classifier in eval mode (run on the model's device, returned on CPU)."""
    from vantage.models import module_device

    model.eval()
    dev = module_device(model)
    out = [model(images[i : i + batch_size].to(dev)).argmax(1).cpu() for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out)


def perspective_perturb(images: torch.Tensor, distortion: float = 0.5, seed: int = 0) -> torch.Tensor:
    """A random perspective warp per image (black fill), reproducible from ``seed``."""
    from torchvision.transforms import v2

    from vantage.data.sampling import seeded_cpu_rng

    warp = v2.RandomPerspective(distortion_scale=distortion, p=1.0, fill=0)
    with seeded_cpu_rng(seed):
        return torch.stack([warp(img) for img in images])


@dataclass
class ClassifyEval:
    """Top-1 (%) per condition, per-viewpoint accuracy on Fib(100), and the Fib(100) directions."""

    top1: dict[str, float]
    per_view: np.ndarray
    view_dirs: np.ndarray
    n: dict[str, int]


def _bank(
    root: Path, rows: list[ViewRecord], size: int, classes: list[str], what: str, filt: dict[str, Any]
) -> ImageBank:
    if not rows:
        raise DatasetError(f"{root} has no test rows for {what} ({filt})")
    return load_image_bank(root, rows, size, classes)


def evaluate_classifier(
    model: torch.nn.Module,
    root: str | Path,
    classes: list[str],
    image_size: int,
    seen_view_set: str = "canonical",
    seen_where: Callable[[ViewRecord], bool] | None = None,
    distortion: float = 0.5,
    seed: int = 0,
) -> ClassifyEval:
    """Top-1 under the three conditions on a built multi-view dataset (in-domain test objects)."""
    from vantage.data import filter_records

    root = Path(root)
    in_classes = list(load_card(root).get("categories", {}).get("in", []))
    if list(classes) != in_classes:
        raise ValueError(f"the model's classes {classes[:3]}... are not this dataset's in-domain categories")
    records = load_records(root)
    seen_f = dict(split="test", domain="in", view_set=seen_view_set)
    seen_rows = [r for r in filter_records(records, **seen_f) if seen_where is None or seen_where(r)]
    seen = _bank(root, seen_rows, image_size, in_classes, "seen views", seen_f)
    unseen_f = dict(split="test", domain="in", view_set="fib100")
    unseen = _bank(root, filter_records(records, **unseen_f), image_size, in_classes, "unseen poses", unseen_f)
    pred_unseen = predict(model, unseen.images)
    correct = (pred_unseen == unseen.category).float()
    per_view = per_view_accuracy(correct, unseen.view_id)
    views = len(per_view)
    dirs = torch.zeros(views, 3)
    dirs[unseen.view_id] = unseen.direction
    top1 = {
        "seen_views": (predict(model, seen.images) == seen.category).float().mean().item(),
        "unseen_poses": correct.mean().item(),
        "perturbed": (predict(model, perspective_perturb(seen.images, distortion, seed)) == seen.category)
        .float()
        .mean()
        .item(),
    }
    return ClassifyEval(
        top1={k: round(100 * v, 2) for k, v in top1.items()},
        per_view=per_view.numpy(),
        view_dirs=dirs.numpy(),
        n={"seen_views": len(seen), "unseen_poses": len(unseen), "perturbed": len(seen)},
    )


@torch.no_grad()
def evaluate_imagefolder(model: torch.nn.Module, root: str | Path, classes: list[str], image_size: int,
                         batch_size: int = 128) -> dict[str, Any]:  # fmt: skip
    """Top-1 (%) of a classifier on each of ``root``'s ImageFolder splits (``val/``, ``test/``: ``<split>/<class>/
    *.png``), images resized as in training; class folders are matched to the model's classes by name."""
    from PIL import Image
    from torchvision.transforms import v2

    root = Path(root)
    splits = [s for s in ("val", "test") if (root / s).is_dir()]
    if not splits:
        raise DatasetError(f"{root} has no val/ or test/ ImageFolder to evaluate on")
    to = v2.Compose([v2.ToImage(), v2.Resize((image_size, image_size), antialias=True),
                     v2.ToDtype(torch.float32, scale=True)])  # fmt: skip
    top1, n = {}, {}
    for split in splits:
        folders = sorted(p for p in (root / split).iterdir() if p.is_dir())
        unknown = [p.name for p in folders if p.name not in classes]
        if unknown:
            raise DatasetError(f"{root / split}: class folder(s) {unknown[:3]} are not among the model's classes")
        files = [(f, classes.index(d.name)) for d in folders for f in sorted(d.iterdir()) if f.is_file()]
        if not files:
            raise DatasetError(f"{root / split} holds no images")
        correct = 0
        for i in range(0, len(files), batch_size):
            chunk = files[i : i + batch_size]
            images = torch.stack([to(Image.open(f).convert("RGB")) for f, _ in chunk])
            labels = torch.tensor([c for _, c in chunk])
            correct += int((predict(model, images) == labels).sum())
        top1[split], n[split] = round(100 * correct / len(files), 2), len(files)
    return {"top1": top1, "n": n}


def evaluate_real_classification(model: torch.nn.Module, real: dict[str, Path], classes: list[str],
                                 image_size: int, azimuth_bins: int = 8) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Top-1 (%) of a classifier on each real set (a ``vantage data import`` folder or a turntable folder), on the
    rows whose category is one of the model's classes, overall and per azimuth bin (``azimuth_bins`` equal bins
    from 0 degrees). A set with none of the model's classes is an error naming both."""
    from vantage.data.read import load_real_records

    out: dict[str, dict[str, Any]] = {}
    for name, folder in real.items():
        records = load_real_records(folder)
        rows = [r for r in records if r.category in classes]
        if not rows:
            found = sorted({r.category for r in records})
            raise DatasetError(f"--real {name}: none of its categories {found[:5]} is among the model's classes "
                               f"{classes[:5]}; import the set with a category column that names them")  # fmt: skip
        bank = load_image_bank(folder, rows, image_size, classes)
        hit = (predict(model, bank.images) == bank.category).float()
        width = 360 / azimuth_bins
        which = np.floor(np.asarray([r.azimuth_deg % 360 for r in rows]) / width).astype(int)
        per_bin = {f"{b * width:g}-{(b + 1) * width:g}": round(100 * float(hit[which == b].mean()), 2)
                   for b in range(azimuth_bins) if (which == b).any()}  # fmt: skip
        out[name] = {"top1": round(100 * float(hit.mean()), 2), "n": len(rows),
                     "skipped_rows": len(records) - len(rows), "per_azimuth": per_bin}  # fmt: skip
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


@torch.no_grad()
def evaluate_pseudo_depth(
    model: torch.nn.Module,
    root: str | Path,
    image_size: int,
    view_set: str = "fib50",
    max_images: int | None = 500,
    min_foreground: float = 0.5,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Per-image Spearman correlation between 3DTRL token depth and rendered depth, averaged over test images.

    Rendered z-depth is averaged over each token's image cell (object pixels only); cells less than
    ``min_foreground`` covered by the object are left out (background depth is undefined). The layer is
    never told which way depth points, so both the signed mean and the mean of |rho| are reported.
    """
    import torch.nn.functional as F

    from vantage.data import filter_records
    from vantage.models import find_3dtrl, module_device

    root = Path(root)
    trl = find_3dtrl(model)
    rows = [r for r in filter_records(load_records(root), split="test", domain="in", view_set=view_set) if r.depth_file]
    if not rows:
        raise DatasetError(f"{root} has no test rows with depth maps in view set {view_set!r}")
    rows = rows[:max_images] if max_images else rows
    classes = list(load_card(root).get("categories", {}).get("in", []))
    bank = load_image_bank(root, rows, image_size, classes)
    depth = torch.from_numpy(np.stack([np.load(inside(root, r.depth_file)) for r in rows]).astype(np.float32))
    trl.keep_diagnostics = True
    model.eval()
    pseudo = []
    try:
        for i in range(0, len(bank), batch_size):
            model(bank.images[i : i + batch_size].to(module_device(model)))
            pseudo.append(trl.last_diagnostics.depth.float().cpu())
        grid = trl.last_diagnostics.grid
    finally:
        trl.keep_diagnostics = False
    pseudo_t = torch.cat(pseudo)
    mask = (depth > 0).float().unsqueeze(1)
    cover = F.adaptive_avg_pool2d(mask, grid).flatten(1)
    cell = (F.adaptive_avg_pool2d(depth.unsqueeze(1) * mask, grid).flatten(1) / cover.clamp_min(1e-6)).numpy()
    keep = (cover >= min_foreground).numpy()
    rhos = [_spearman(pseudo_t[i].numpy()[keep[i]], cell[i][keep[i]]) for i in range(len(rows)) if keep[i].sum() >= 4]
    rhos = np.asarray([r for r in rhos if np.isfinite(r)])
    if rhos.size == 0:
        raise DatasetError("no test image had 4 or more foreground tokens to correlate")
    return {
        "spearman_mean": round(float(rhos.mean()), 4),
        "spearman_std": round(float(rhos.std()), 4),
        "abs_spearman_mean": round(float(np.abs(rhos).mean()), 4),
        "positive_fraction": round(float((rhos > 0).mean()), 4),
        "images": int(rhos.size),
        "grid": list(grid),
    }


@torch.no_grad()
def pseudo_depth_maps(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """3DTRL token depth of ``images`` as (K, h, w) maps (the first frame's grid)."""
    from vantage.models import find_3dtrl, module_device

    trl = find_3dtrl(model)
    trl.keep_diagnostics = True
    try:
        model.eval()(images.to(module_device(model)))
        d = trl.last_diagnostics
    finally:
        trl.keep_diagnostics = False
    return d.depth[:, : d.grid[0] * d.grid[1]].reshape(-1, *d.grid).float().cpu()
