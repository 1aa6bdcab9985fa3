"""Image transforms: plain tensor conversion for evaluation, the SSL augmentation recipe and the per-clip video
augmentation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2

__all__ = ["CLIP_AUGMENTS", "IMAGENET_MEAN", "IMAGENET_STD", "clip_augmentation", "ssl_augmentation", "to_tensor"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_tensor(
    size: int | None = None, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> v2.Compose:
    """PIL -> float CHW tensor in [0, 1], optionally resized (square) and normalised."""
    ops: list = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if size is not None:
        ops.append(v2.Resize((size, size), antialias=True))
    if mean is not None:
        ops.append(v2.Normalize(mean, std if std is not None else (1.0, 1.0, 1.0)))
    return v2.Compose(ops)


def ssl_augmentation(
    size: int,
    crop_scale: tuple[float, float] = (0.2, 1.0),
    hflip_prob: float = 0.0,
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.2),
    jitter_prob: float = 0.8,
    gray_prob: float = 0.2,
    blur_prob: float = 0.5,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> v2.Compose:
    """The pose-aware SSL recipe (random resized crop, colour jitter, greyscale, blur) for the centre view.

    Horizontal flips are off by default: a flip mirrors the pose, which the trajectory loss and the pose
    benchmark care about. Pass ``hflip_prob=0.5`` for the usual SSL recipe.
    """
    kernel = max(3, (size // 10) | 1)
    ops: list = [
        v2.ToImage(),
        v2.RandomResizedCrop((size, size), scale=crop_scale, antialias=True),
        v2.RandomHorizontalFlip(hflip_prob),
        v2.RandomApply([v2.ColorJitter(*jitter)], p=jitter_prob),
        v2.RandomGrayscale(gray_prob),
        v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_prob),
        v2.ToDtype(torch.float32, scale=True),
    ]
    if mean is not None:
        ops.append(v2.Normalize(mean, std if std is not None else (1.0, 1.0, 1.0)))
    return v2.Compose(ops)


CLIP_AUGMENTS = ("none", "clip")


def clip_augmentation(
    size: int,
    crop_scale: tuple[float, float] = (0.6, 1.0),
    jitter: tuple[float, float, float, float] = (0.3, 0.3, 0.3, 0.5),
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """Per-clip video augmentation on normalised (T, C, H, W) frames: one random resized crop and one colour jitter
    (hue up to half a turn: actors differ in colour) drawn per clip and applied to every frame alike; no flips
    (they swap left and right actions). Draws from torch's global generator (seed it per item)."""
    inv_std = [1.0 / s for s in std]
    return v2.Compose([
        v2.Normalize([-m / s for m, s in zip(mean, std, strict=True)], inv_std),  # back to [0, 1]
        v2.RandomResizedCrop((size, size), scale=crop_scale, antialias=True),
        v2.ColorJitter(*jitter),
        v2.Normalize(mean, std),
    ])  # fmt: skip
