"""The metadata row schema every multi-view dataset shares, and reading/validating ``metadata.jsonl``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vantage.errors import VantageError
from vantage.io import OutsideFolderError
from vantage.io import inside as io_inside

__all__ = [
    "CARD_FILE",
    "CHECKSUM_FILE",
    "METADATA_FILE",
    "DatasetError",
    "ViewRecord",
    "check_relative_path",
    "inside",
    "load_card",
    "load_records",
    "triplet_sequence",
]

CARD_FILE = "dataset.json"
METADATA_FILE = "metadata.jsonl"
CHECKSUM_FILE = "checksums.sha256"
SPLITS = ("train", "val", "test")
DOMAINS = ("in", "out", "real")
TRIPLET_POSITIONS = ("L", "C", "R")


class DatasetError(VantageError, ValueError):
    """A dataset folder or row that breaks the data contract; the message names the file, line and field."""


@dataclass
class ViewRecord:
    """One image of one object from one viewpoint (a row of metadata.jsonl). Angles are in degrees."""

    file_name: str
    object_id: str
    category: str
    domain: str
    split: str
    view_set: str
    view_id: int
    azimuth_deg: float
    elevation_deg: float | None = None
    roll_deg: float = 0.0
    distance: float | None = None
    cam_to_world: list[list[float]] | None = None
    fov_deg: float | None = None
    caption: str | None = None
    view_caption: str | None = None
    triplet_id: int | None = None
    triplet_pos: str | None = None
    sequence_id: str | None = None  # frames of one trajectory / video share it (across cameras)
    frame_index: int | None = None  # position in the sequence (synchronised across cameras)
    camera_id: str | None = None  # which camera of a multi-camera sequence
    phase: str | None = None  # the task phase a frame belongs to (video data)
    depth_file: str | None = None
    mask_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    REQUIRED = ("file_name", "object_id", "category", "domain", "split", "view_set", "view_id", "azimuth_deg")

    def to_json(self) -> dict[str, Any]:
        """The JSON row (``None`` fields dropped, ``extra`` flattened)."""
        d = {k: v for k in _ROW_FIELDS if (v := getattr(self, k)) is not None}
        d.update(self.extra)
        return d

    @classmethod
    def from_json(cls, row: dict[str, Any], where: str = "row") -> ViewRecord:
        """Validate and build a record; errors name ``where`` and the field."""
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected a JSON object (one row), got {type(row).__name__} {row!r:.40}")
        missing = [k for k in cls.REQUIRED if row.get(k) is None]
        if missing:
            raise DatasetError(f"{where}: missing required field(s) {', '.join(missing)}")
        known = {f.name for f in fields(cls)} - {"extra"}
        rec = cls(
            **{k: v for k, v in row.items() if k in known}, extra={k: v for k, v in row.items() if k not in known}
        )
        for name in ("file_name", "depth_file", "mask_file"):
            value = getattr(rec, name)
            if value is not None:
                check_relative_path(value, f"{where}: field {name}")
        if rec.domain not in DOMAINS:
            raise DatasetError(f"{where}: field domain={rec.domain!r} must be one of {DOMAINS}")
        if rec.split not in SPLITS:
            raise DatasetError(f"{where}: field split={rec.split!r} must be one of {SPLITS}")
        if rec.triplet_pos is not None and rec.triplet_pos not in TRIPLET_POSITIONS:
            raise DatasetError(f"{where}: field triplet_pos={rec.triplet_pos!r} must be one of {TRIPLET_POSITIONS}")
        if rec.cam_to_world is not None and np.asarray(rec.cam_to_world).shape != (4, 4):
            raise DatasetError(f"{where}: field cam_to_world must be 4x4")
        for name in ("view_id", "frame_index", "triplet_id"):
            value = getattr(rec, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise DatasetError(f"{where}: field {name}={value!r} must be an integer")
        for name in ("azimuth_deg", "elevation_deg", "roll_deg", "distance", "fov_deg"):
            value = getattr(rec, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise DatasetError(f"{where}: field {name}={value!r} must be a finite number")
            setattr(rec, name, float(value))
        if rec.cam_to_world is not None and not np.isfinite(np.asarray(rec.cam_to_world, dtype=float)).all():
            raise DatasetError(f"{where}: field cam_to_world holds a non-finite number")
        if rec.triplet_id is not None and rec.triplet_pos is not None and rec.sequence_id is None:
            rec.sequence_id, rec.frame_index = triplet_sequence(rec.object_id, rec.triplet_id, rec.triplet_pos)
        elif (rec.sequence_id is None) != (rec.frame_index is None):
            raise DatasetError(f"{where}: sequence_id and frame_index must be given together")
        return rec

    def direction(self) -> np.ndarray:
        """Unit viewing direction from the object toward the camera (elevation 0 if unknown)."""
        from vantage.geometry import spherical_to_cartesian

        return spherical_to_cartesian(self.azimuth_deg, self.elevation_deg or 0.0)


_ROW_FIELDS = tuple(f.name for f in fields(ViewRecord) if f.name != "extra")


def check_relative_path(value: Any, where: str) -> str:
    """``value`` if it is a relative path that stays inside the folder it is relative to; else a DatasetError
    naming ``where`` (absolute paths, drive letters, backslashes and ``..`` parts are refused)."""
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{where}={value!r} must be a non-empty relative path")
    p = PurePosixPath(value)
    if p.is_absolute() or "\\" in value or ":" in p.parts[0] or ".." in p.parts or "\x00" in value:
        raise DatasetError(f"{where}={value!r} must be a relative path inside the dataset folder")
    return value


def inside(root: str | Path, rel: str) -> Path:
    """``root / rel`` of a dataset, refusing a path that resolves outside ``root`` (e.g. through a symbolic link):
    :func:`vantage.io.inside` with the dataset's error type."""
    try:
        return io_inside(root, rel, "dataset folder")
    except OutsideFolderError as e:
        raise DatasetError(str(e)) from None


def triplet_sequence(object_id: str, triplet_id: int, triplet_pos: str) -> tuple[str, int]:
    """(sequence_id, frame_index) of a triplet row: a three-frame sequence ``<object>/triplet<k>``, L C R = 0 1 2.
    Readers derive these for rows that lack them (datasets built before the sequence fields)."""
    return f"{object_id}/triplet{int(triplet_id)}", TRIPLET_POSITIONS.index(triplet_pos)


def load_records(root: str | Path) -> list[ViewRecord]:
    """All rows of ``<root>/metadata.jsonl``, validated."""
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        raise DatasetError(f"{path} not found: {root} is not a built vantage dataset (run `vantage data build`)")
    return [ViewRecord.from_json(row, f"{path} line {lineno}") for lineno, row in read_jsonl(path)]


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of every non-empty line of a JSON Lines file; a line that is not UTF-8 or not
    JSON is one DatasetError naming the file and line (a leading byte-order mark is allowed)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DatasetError(f"{path} line {lineno}: not UTF-8 text (byte {e.start + 1})") from None
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path} line {lineno}: not valid JSON ({e.msg})") from None


def load_card(root: str | Path) -> dict[str, Any]:
    """The dataset card ``<root>/dataset.json``."""
    path = Path(root) / CARD_FILE
    if not path.is_file():
        raise DatasetError(f"{path} not found: {root} is not a built vantage dataset (run `vantage data build`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e.msg})") from e
