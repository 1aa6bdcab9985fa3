"""Action-recognition data: one clip per (recording, static camera), labelled with the recording's category, and
the two standard protocols (NTU RGB+D, Toyota Smarthome):

* ``cross_view``: train on the recordings seen by ``train_cameras``, test on the same recordings seen by every
  other static camera (cameras never trained on);
* ``cross_subject``: train on the recordings of ``train_actors`` (every camera), test on the other actors'.

Rows need ``sequence_id``, ``frame_index`` and ``camera_id`` (synchronised cameras); cross-subject also needs an
``actor`` field. First-person rows (``camera_group: fpv``) are left out: the protocols are about static cameras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.data.clips import SequenceIndex, index_sequences, jittered_positions, spread_positions
from vantage.data.read import Transform, _natural, _RecordDataset
from vantage.data.schema import DatasetError, ViewRecord, load_records

__all__ = ["ACTION_PROTOCOLS", "ActionClipDataset", "ActionSplit", "action_split", "camera_distances"]

ACTION_PROTOCOLS = ("cross_view", "cross_subject")


@dataclass
class ActionSplit:
    """The (sequence, camera) pairs of each side of a protocol, over ``sequences``."""

    sequences: list[SequenceIndex]
    actors: dict[str, str]  # sequence id -> actor ("" when the data has none)
    train: list[tuple[int, str]]
    test: list[tuple[int, str]]
    train_cameras: list[str]
    test_cameras: list[str]


def _static_rows(root: Path) -> list[ViewRecord]:
    return [r for r in load_records(root) if r.sequence_id is not None and r.extra.get("camera_group") != "fpv"]


def action_split(
    root: str | Path, protocol: str, train_cameras: Sequence[str], train_actors: Sequence[str]
) -> ActionSplit:
    """Split a dataset's recordings by ``protocol``; errors name the camera or actor that is not in the data, and
    a protocol that would leave a side empty."""
    root = Path(root)
    if protocol not in ACTION_PROTOCOLS:
        raise ValueError(f"action protocol must be one of {ACTION_PROTOCOLS}, got {protocol!r}")
    rows = _static_rows(root)
    seqs = index_sequences(rows, where=str(root))
    if not seqs:
        raise DatasetError(f"{root} has no recordings (rows with sequence_id, frame_index, camera_id)")
    actors = {s.sequence_id: str(s.frames[s.cameras[0]][0].extra.get("actor", "")) for s in seqs}
    cams = sorted({c for s in seqs for c in s.cameras}, key=_natural)
    every = [(k, c) for k, s in enumerate(seqs) for c in s.cameras]
    if protocol == "cross_view":
        unknown = [c for c in train_cameras if c not in cams]
        if unknown or not train_cameras:
            raise DatasetError(f"{root}: train_cameras {list(train_cameras)} must name cameras of the data {cams}")
        train = [p for p in every if p[1] in train_cameras]
        test = [p for p in every if p[1] not in train_cameras]
        train_cams, test_cams = [c for c in cams if c in train_cameras], [c for c in cams if c not in train_cameras]
    else:
        known = sorted(set(actors.values()) - {""}, key=_natural)
        unknown = [a for a in train_actors if a not in known]
        if not known or unknown or not train_actors:
            raise DatasetError(f"{root}: train_actors {list(train_actors)} must name actors of the data {known} "
                               "(rows need an 'actor' field for the cross-subject protocol)")  # fmt: skip
        train = [p for p in every if actors[seqs[p[0]].sequence_id] in train_actors]
        test = [p for p in every if actors[seqs[p[0]].sequence_id] not in train_actors]
        train_cams = test_cams = cams
    if not train or not test:
        raise DatasetError(f"{root}: the {protocol} protocol leaves no {'training' if not train else 'test'} clips")
    return ActionSplit(seqs, actors, train, test, train_cams, test_cams)


def camera_distances(split: ActionSplit) -> dict[str, float]:
    """Each test camera's angle (degrees) between its optical axis and the nearest training camera's (mean axis
    over the recording's frames; 0 for a camera that is also trained on)."""
    axes: dict[str, list[np.ndarray]] = {}
    for s in split.sequences:
        for c in s.cameras:
            axes.setdefault(c, []).extend(np.asarray(r.cam_to_world)[:3, 2] for r in s.frames[c]
                                          if r.cam_to_world is not None)  # fmt: skip
    mean = {c: v / np.linalg.norm(v) for c, a in axes.items() if a and np.linalg.norm(v := np.mean(a, 0)) > 0}
    out = {}
    for c in split.test_cameras:
        if c in split.train_cameras:
            out[c] = 0.0
        elif c in mean and any(t in mean for t in split.train_cameras):
            cos = max(float(mean[c] @ mean[t]) for t in split.train_cameras if t in mean)
            out[c] = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return out


class ActionClipDataset(_RecordDataset):
    """Clips of one side (``train`` or ``test``) of an :class:`ActionSplit`: ``frames`` frames spread over each
    recording (clip j of ``clips_per_sequence`` interleaved, as :func:`spread_positions`), one camera each.

    An item holds ``frames`` (T, C, H, W), ``label`` (category index), ``camera``, ``sequence_id``, ``actor``.
    ``cache`` keeps every decoded, transformed frame in memory (float16) after its first use, so later epochs
    read no files: for small CPU-scale data (the default preset's takes ~270 MB), not for 224 px video.
    """

    def __init__(self, root: str | Path, split: ActionSplit, side: str = "train", frames: int = 8,
                 clips_per_sequence: int = 1, transform: Transform | None = None,
                 classes: Sequence[str] | None = None, cache: bool = False) -> None:  # fmt: skip
        if side not in ("train", "test"):
            raise ValueError(f"side must be train or test, got {side!r}")
        if frames < 1 or clips_per_sequence < 1:
            raise ValueError(f"need frames >= 1 and clips_per_sequence >= 1, got {frames}, {clips_per_sequence}")
        self.split, self.frames, self.k = split, frames, clips_per_sequence
        self._cache: dict[str, torch.Tensor] | None = {} if cache else None
        short = [s.sequence_id for s in split.sequences if len(s.frame_indices) < frames]
        if short:
            raise DatasetError(f"{root}: recording {short[0]} has fewer than {frames} frames")
        self.pairs = getattr(split, side)
        self.clips = [(p, j) for p in range(len(self.pairs)) for j in range(clips_per_sequence)]
        names = classes if classes is not None else sorted({s.category for s in split.sequences}, key=_natural)
        records = [r for s in split.sequences for c in s.cameras for r in s.frames[c]]
        super().__init__(root, records, names, transform)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.clip(index)

    def clip(self, index: int, jitter: bool = False) -> dict[str, Any]:
        """Item ``index``; ``jitter`` draws its frames by segment sampling (:func:`jittered_positions`) instead of
        the fixed interleaved spread (training-time temporal augmentation)."""
        p, j = self.clips[index]
        k, cam = self.pairs[p]
        seq = self.split.sequences[k]
        n = len(seq.frame_indices)
        pos = jittered_positions(n, self.frames) if jitter else spread_positions(n, self.frames, j, self.k)
        return {
            "frames": torch.stack([self._frame(seq.frames[cam][i]) for i in pos]),
            "label": self.class_to_idx.get(seq.category, -1),
            "camera": cam,
            "sequence_id": seq.sequence_id,
            "actor": self.split.actors[seq.sequence_id],
        }

    def _frame(self, rec: ViewRecord) -> torch.Tensor:
        if self._cache is None:
            return self.image(rec)
        hit = self._cache.get(rec.file_name)
        if hit is None:
            hit = self._cache[rec.file_name] = self.image(rec).half()
        return hit.float()
