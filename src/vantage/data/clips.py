"""Clips of synchronised frames from several cameras: the reader for sequence data (video, trajectories).

Rows that share a ``sequence_id`` are one recording; ``camera_id`` says which camera took a frame and
``frame_index`` when. Every camera of a sequence must have the same frame indices (synchronised).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.data.read import Transform, _natural, _RecordDataset, filter_records
from vantage.data.schema import DatasetError, ViewRecord, load_records

__all__ = ["ClipDataset", "SequenceIndex", "index_sequences", "jittered_positions", "spread_positions"]


def spread_positions(length: int, frames: int, offset: int, clips: int) -> list[int]:
    """Positions of clip ``offset`` of ``clips`` spreading ``frames`` frames over a sequence of ``length``:
    floor((i + (offset + 0.5) / clips) x length / frames) for i < frames (the clips interleave)."""
    shift = (offset + 0.5) / clips
    return [int((i + shift) * length / frames) for i in range(frames)]


def jittered_positions(length: int, frames: int) -> list[int]:
    """Segment sampling (TSN): one position drawn uniformly from each of ``frames`` equal segments of a sequence of
    ``length``, from torch's global generator (seed it per item, as :func:`vantage.data.sampling.keyed_rng` does)."""
    u = torch.rand(frames).tolist()
    return [min(length - 1, int((i + u[i]) * length / frames)) for i in range(frames)]


@dataclass
class SequenceIndex:
    """One sequence's frames per camera, ordered by frame index: ``frames[camera][t]`` is a row."""

    sequence_id: str
    category: str
    cameras: list[str]
    frame_indices: list[int]
    frames: dict[str, list[ViewRecord]]


def index_sequences(
    records: Sequence[ViewRecord], cameras: Sequence[str] | None = None, where: str = "dataset"
) -> list[SequenceIndex]:
    """Group rows into synchronised sequences (natural order of ``sequence_id``); ``cameras`` keeps only those
    cameras (each must be present in every sequence). Errors name the sequence and camera that break the rules."""
    by_seq: dict[str, dict[str, dict[int, ViewRecord]]] = {}
    for r in records:
        if r.sequence_id is None or r.frame_index is None:
            raise DatasetError(f"{where}: row {r.file_name} has no sequence_id/frame_index")
        cam = r.camera_id if r.camera_id is not None else "0"
        per_cam = by_seq.setdefault(r.sequence_id, {}).setdefault(cam, {})
        if r.frame_index in per_cam:
            raise DatasetError(f"{where}: sequence {r.sequence_id} camera {cam} has frame {r.frame_index} twice")
        per_cam[r.frame_index] = r
    out = []
    for seq in sorted(by_seq, key=_natural):
        cams = by_seq[seq]
        chosen = list(cameras) if cameras is not None else sorted(cams, key=_natural)
        missing = [c for c in chosen if c not in cams]
        if missing:
            raise DatasetError(f"{where}: sequence {seq} has no camera {missing[0]} (it has {sorted(cams)})")
        ref = sorted(cams[chosen[0]])
        for c in chosen[1:]:
            if sorted(cams[c]) != ref:
                raise DatasetError(f"{where}: sequence {seq} camera {c} is not synchronised with camera {chosen[0]}")
        cats = {r.category for c in chosen for r in cams[c].values()}
        if len(cats) != 1:
            raise DatasetError(f"{where}: sequence {seq} mixes categories {sorted(cats)}")
        frames = {c: [cams[c][t] for t in ref] for c in chosen}
        out.append(SequenceIndex(seq, cats.pop(), chosen, ref, frames))
    return out


class ClipDataset(_RecordDataset):
    """Clips of ``frames`` frames, ``stride`` apart, from every chosen camera of each sequence.

    ``clips_per_sequence`` windows are spread evenly over each sequence (0: every start). ``stride=0`` spreads
    the clip's frames over the whole sequence instead (TCC-style sampling): clip k of K takes frame
    floor((i + (k + 0.5) / K) x n / frames) for i < frames, so the K clips interleave (K = 0: n // frames).
    An item holds ``frames`` (V, T, C, H, W), ``frame_index`` (T,), ``cam_to_world`` (V, T, 4, 4) (identity
    where unknown), ``cameras`` (V names), ``phase`` (T names, "" where unknown), ``label`` (category index),
    ``sequence_id`` and ``start``. ``frames=0`` takes whole sequences (one clip each; equal lengths batch).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Iterable[str] | None = None,
        view_set: str | Iterable[str] | None = None,
        cameras: Sequence[str] | None = None,
        frames: int = 8,
        stride: int = 1,
        clips_per_sequence: int = 1,
        transform: Transform | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        root = Path(root)
        if frames < 0 or stride < 0 or clips_per_sequence < 0 or (stride == 0 and frames == 0):
            raise ValueError(f"need frames >= 0, stride >= 0 (0 only with frames > 0), clips_per_sequence >= 0; got "
                             f"{frames}, {stride}, "
                             f"{clips_per_sequence}")  # fmt: skip
        records = filter_records(load_records(root), split=split, view_set=view_set)
        self.sequences = index_sequences(records, cameras, str(root))
        if not self.sequences:
            raise DatasetError(f"no sequences in {root} for split={split!r}, view_set={view_set!r}")
        self.frames, self.stride = frames, stride
        self.clips: list[tuple[int, int]] = []
        self._spread: dict[int, int] = {}  # stride 0: clips per sequence
        for k, seq in enumerate(self.sequences):
            n = len(seq.frame_indices)
            span = n if frames == 0 else frames if stride == 0 else (frames - 1) * stride + 1
            if span > n:
                raise DatasetError(
                    f"{root}: sequence {seq.sequence_id} has {n} frames, fewer than a clip of {frames} x stride "
                    f"{stride} needs ({span})"
                )
            last = n - span
            if stride == 0:  # spread: the second slot holds the clip's offset j of K
                self._spread[k] = clips_per_sequence or max(1, n // frames)
                self.clips += [(k, j) for j in range(self._spread[k])]
                continue
            if frames == 0 or clips_per_sequence == 1:
                starts = [last // 2] if frames else [0]
            elif clips_per_sequence == 0:
                starts = list(range(last + 1))
            else:
                starts = sorted({round(s) for s in np.linspace(0, last, clips_per_sequence)})
            self.clips += [(k, s) for s in starts]
        names = classes if classes is not None else sorted({s.category for s in self.sequences}, key=_natural)
        super().__init__(root, records, names, transform)

    def __len__(self) -> int:
        return len(self.clips)

    def clip_rows(self, index: int) -> tuple[SequenceIndex, list[int]]:
        """The sequence of clip ``index`` and the positions (into its frame list) the clip takes."""
        k, start = self.clips[index]
        seq = self.sequences[k]
        if self.stride == 0:
            return seq, spread_positions(len(seq.frame_indices), self.frames, start, self._spread[k])
        n = len(seq.frame_indices) if self.frames == 0 else self.frames
        return seq, [start + i * self.stride for i in range(n)]

    def __getitem__(self, index: int) -> dict[str, Any]:
        seq, pos = self.clip_rows(index)
        rows = [[seq.frames[c][p] for p in pos] for c in seq.cameras]
        return {
            "frames": torch.stack([torch.stack([self.image(r) for r in cam]) for cam in rows]),
            "frame_index": torch.tensor([seq.frame_indices[p] for p in pos]),
            "cam_to_world": torch.stack([torch.stack([_pose(r) for r in cam]) for cam in rows]),
            "cameras": list(seq.cameras),
            "phase": [r.phase or "" for r in rows[0]],
            "label": self.class_to_idx.get(seq.category, -1),
            "sequence_id": seq.sequence_id,
            "start": pos[0],
        }


def _pose(rec: ViewRecord) -> torch.Tensor:
    return torch.eye(4) if rec.cam_to_world is None else torch.tensor(rec.cam_to_world, dtype=torch.float32)
