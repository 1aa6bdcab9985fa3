"""Action recognition evaluation: top-1 and mean per-class accuracy on the test side of a protocol, per test
camera, with each test camera's angular distance from the nearest training camera (accuracy vs distance)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["ActionEvalConfig", "action_accuracy", "evaluate_action"]


@dataclass
class ActionEvalConfig:
    """How test clips are scored (the preset's ``action.eval`` section)."""

    clips_per_sequence: int = 1  # clips per (recording, camera), interleaved in time; their logits are averaged
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.clips_per_sequence < 1 or self.batch_size < 1:
            raise ValueError("clips_per_sequence and batch_size must be >= 1")


def action_accuracy(pred: np.ndarray, label: np.ndarray, num_classes: int) -> dict[str, float]:
    """Top-1 and mean per-class accuracy (%; classes absent from ``label`` are left out of the mean)."""
    pred, label = np.asarray(pred), np.asarray(label)
    if len(label) == 0:
        return {"top1": float("nan"), "mean_class": float("nan"), "clips": 0}
    per = [float((pred[label == c] == c).mean()) for c in range(num_classes) if (label == c).any()]
    return {"top1": 100.0 * float((pred == label).mean()), "mean_class": 100.0 * float(np.mean(per)),
            "clips": len(label)}  # fmt: skip


@torch.no_grad()
def evaluate_action(
    model: Callable[[torch.Tensor], torch.Tensor],
    clips: Any,
    distances: dict[str, float],
    cfg: ActionEvalConfig | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score ``model`` (clips (B, T, C, H, W) -> logits) on an :class:`~vantage.data.ActionClipDataset` test side.

    Logits of a (recording, camera)'s clips are averaged. Returns top-1 / mean per-class overall, per test
    camera (with ``distance_deg`` from the nearest training camera) and per actor, and the confusion matrix.
    """
    from vantage.models import module_device

    cfg = cfg or ActionEvalConfig()
    names = list(classes) if classes is not None else list(clips.classes)
    logits: dict[int, torch.Tensor] = {}
    for start in range(0, len(clips), cfg.batch_size):
        idx = list(range(start, min(len(clips), start + cfg.batch_size)))
        video = torch.stack([clips[i]["frames"] for i in idx]).to(module_device(model))
        out = model(video).float().cpu()
        for i, z in zip(idx, out, strict=True):
            p = clips.clips[i][0]
            logits[p] = z if p not in logits else logits[p] + z
    pairs = sorted(logits)
    seqs = clips.split.sequences
    pred = np.array([int(logits[p].argmax()) for p in pairs])
    label = np.array([names.index(seqs[clips.pairs[p][0]].category) for p in pairs])
    cams = np.array([clips.pairs[p][1] for p in pairs])
    actors = np.array([clips.split.actors[seqs[clips.pairs[p][0]].sequence_id] for p in pairs])
    k = len(names)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (label, pred), 1)
    per_camera = {}
    for c in dict.fromkeys(cams.tolist()):
        m = cams == c
        per_camera[c] = {**action_accuracy(pred[m], label[m], k), "distance_deg": distances.get(c)}
    per_actor = {a: action_accuracy(pred[actors == a], label[actors == a], k) for a in dict.fromkeys(actors.tolist())}
    return {
        **action_accuracy(pred, label, k),
        "per_camera": per_camera,
        "per_actor": per_actor,
        "classes": names,
        "confusion": confusion.tolist(),
    }
