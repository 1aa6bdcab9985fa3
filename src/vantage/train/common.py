"""Shared training machinery: atomic checkpoints, RNG state capture for exact resume, trainer set-up."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["AtomicCheckpoint", "capture_rng", "last_checkpoint", "restore_rng"]


class AtomicCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes to a temp file and renames it, so a kill never leaves a torn checkpoint."""

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        tmp = f"{filepath}.tmp-{os.getpid()}"
        trainer.save_checkpoint(tmp, self.save_weights_only)
        if trainer.is_global_zero:
            os.replace(tmp, filepath)
        trainer.strategy.barrier("atomic_checkpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath


def capture_rng() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as tensors and plain lists (loadable with ``weights_only=True``),
    stored in checkpoints so that a resumed run draws the same random numbers as an uninterrupted one."""
    version, py_state, gauss = random.getstate()
    key, np_state, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(py_state), gauss],
        "numpy": [key, torch.from_numpy(np_state.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    key, np_state, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((key, np_state.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])


def last_checkpoint(out: str | Path) -> Path | None:
    """``<out>/checkpoints/last.ckpt`` if a previous run left one."""
    path = Path(out) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None
