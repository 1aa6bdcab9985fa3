"""Learning curves: held-out scores logged at evenly spaced steps during training, beside the training loss
(the CSV log's ``probe/<name>`` columns), so a report can show whether a baseline learned its task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

__all__ = ["CurveProbe", "top1_probe"]


def top1_probe(clips: torch.Tensor, labels: torch.Tensor, forward: Callable[[Any, torch.Tensor], torch.Tensor],
               batch_size: int = 32) -> Callable[[Any], float]:  # fmt: skip
    """A probe: top-1 (%) of ``forward(module, batch)`` logits on fixed inputs (moved to the module's device)."""

    @torch.no_grad()
    def score(module: Any) -> float:
        device = next(module.parameters()).device
        hits = 0
        for i in range(0, len(clips), batch_size):
            logits = forward(module, clips[i : i + batch_size].to(device))
            hits += int((logits.argmax(1).cpu() == labels[i : i + batch_size]).sum())
        return 100.0 * hits / max(1, len(clips))

    return score


class CurveProbe(Callback):
    """Score ``probes`` (name -> module -> number) at ``points`` evenly spaced steps of the run (the last step
    included), in eval mode, and log them to every logger as ``probe/<name>`` at that step."""

    def __init__(self, probes: dict[str, Callable[[Any], float]], points: int) -> None:
        self.probes, self.points = probes, points
        self.marks: set[int] = set()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        total = int(trainer.estimated_stepping_batches)
        self.marks = {max(1, round(total * (i + 1) / self.points)) for i in range(self.points)}

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if step not in self.marks or not trainer.is_global_zero:
            return
        self.marks.discard(step)  # one row per mark, also when gradient accumulation repeats a step
        was = pl_module.training
        pl_module.eval()
        try:
            scores = {f"probe/{name}": float(fn(pl_module)) for name, fn in self.probes.items()}
        finally:
            pl_module.train(was)
        for logger in trainer.loggers:
            logger.log_metrics(scores, step=step)
