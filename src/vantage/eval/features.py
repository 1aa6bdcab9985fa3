"""Evaluation inputs: images of selected rows decoded once into tensors, and frozen features per tap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from vantage.data.schema import DatasetError, ViewRecord, inside
from vantage.models.backbones import FeatureExtractor, compress_tap

__all__ = ["ImageBank", "eval_image_size", "extract_features", "load_image_bank"]


@dataclass
class ImageBank:
    """Decoded, resized images (N, 3, S, S) in [0, 1] with per-row labels and poses as tensors.

    ``category`` indexes ``classes``; ``object`` indexes ``objects``; ``direction`` (N, 3) points from the
    object to the camera; ``rotation`` (N, 3, 3) is the camera-to-world rotation (identity where unknown);
    ``posed`` says every row carried a camera pose (rendered sets, imported camera-posed captures).
    """

    images: torch.Tensor
    category: torch.Tensor
    object: torch.Tensor
    view_id: torch.Tensor
    direction: torch.Tensor
    rotation: torch.Tensor
    azimuth: torch.Tensor
    classes: list[str]
    objects: list[str]
    posed: bool = False

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, mask: torch.Tensor) -> ImageBank:
        """The rows where ``mask`` is true (labels keep their indices)."""
        pick = lambda t: t[mask]  # noqa: E731
        return ImageBank(
            pick(self.images),
            pick(self.category),
            pick(self.object),
            pick(self.view_id),
            pick(self.direction),
            pick(self.rotation),
            pick(self.azimuth),
            self.classes,
            self.objects,
            self.posed,
        )


def _decode(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"image file {path} is missing") from None
    except Exception as e:
        raise DatasetError(f"image file {path} is corrupt or unreadable: {type(e).__name__}: {e}") from e


def load_image_bank(
    root: str | Path,
    records: Sequence[ViewRecord],
    size: int,
    classes: Sequence[str],
    workers: int = 4,
    chunk: int = 2048,
) -> ImageBank:
    """Decode ``records``' images (threads: PIL releases the GIL while decoding) and resize them to ``size``
    exactly as the training loaders' ``to_tensor(size)`` does (float, antialiased bilinear)."""
    root = Path(root)
    if not records:
        raise DatasetError(f"no rows selected from {root}")
    class_index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({r.category for r in records} - set(class_index))
    if unknown:
        raise DatasetError(f"{root}: categories {unknown[:3]} are not among the classes {list(classes)[:5]}...")
    resize = v2.Resize((size, size), antialias=True)
    paths = [inside(root, r.file_name) for r in records]
    parts = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(paths), chunk):
            arrays = list(pool.map(_decode, paths[start : start + chunk]))
            shapes = {a.shape for a in arrays}
            if len(shapes) != 1:
                raise DatasetError(f"{root}: images of different sizes {sorted(shapes)[:2]} in one bank")
            batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)
            parts.append(batch if batch.shape[-1] == size and batch.shape[-2] == size else resize(batch))
    objects = sorted({r.object_id for r in records})
    obj_index = {o: i for i, o in enumerate(objects)}
    rot = [np.asarray(r.cam_to_world)[:3, :3] if r.cam_to_world is not None else np.eye(3) for r in records]
    return ImageBank(
        images=torch.cat(parts),
        category=torch.tensor([class_index[r.category] for r in records]),
        object=torch.tensor([obj_index[r.object_id] for r in records]),
        view_id=torch.tensor([r.view_id for r in records]),
        direction=torch.from_numpy(np.stack([r.direction() for r in records])).float(),
        rotation=torch.from_numpy(np.stack(rot)).float(),
        azimuth=torch.tensor([r.azimuth_deg for r in records], dtype=torch.float32),
        classes=list(classes),
        objects=objects,
        posed=all(r.cam_to_world is not None for r in records),
    )


@torch.no_grad()
def extract_features(
    extractor: FeatureExtractor,
    images: torch.Tensor,
    taps: Sequence[str],
    compress: str = "flatten",
    batch_size: int = 512,
    normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Frozen features (N, D) per tap in one forward pass per batch (eval mode); maps compressed with
    :func:`~vantage.models.compress_tap` (``compress``). ``progress(n)`` is called after each batch."""
    was_training = extractor.training
    extractor.eval()
    device = next(extractor.parameters()).device
    out: dict[str, list[torch.Tensor]] = {t: [] for t in taps}
    try:
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size].to(device)
            if normalize is not None:
                x = normalize(x)
            for name, t in extractor.taps(x, taps).items():
                out[name].append(compress_tap(t, compress).float().cpu())
            if progress is not None:
                progress(x.shape[0])
    finally:
        extractor.train(was_training)
    return {t: torch.cat(v) for t, v in out.items()}


def eval_image_size(requested: int | None, trained: int | None, fallback: int = 224) -> int:
    """The input size to evaluate at: what was asked for explicitly, else the resolution the model was trained
    at, else ``fallback`` (e.g. a pretrained model's native size). Bench and CLI both follow this rule."""
    if requested is not None:
        return requested
    return trained if trained is not None else fallback
