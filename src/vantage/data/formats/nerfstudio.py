"""nerfstudio / instant-ngp ``transforms.json``: per frame a ``file_path`` and an OpenGL camera-to-world
``transform_matrix`` (camera +X right, +Y up, +Z back), intrinsics global or per frame (``fl_x``, ``fl_y``,
``cx``, ``cy``, ``w``, ``h``, or instant-ngp's horizontal ``camera_angle_x`` in radians). Blender-style
``transforms_{train,val,test}.json`` give each frame its split. One object per folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from vantage.data.formats.common import (
    CATEGORY_FILE,
    ExportObject,
    copy_file,
    image_size,
    object_folders,
    read_category,
    read_json,
    resolve,
)
from vantage.data.formats.frame import GL_TO_CV, PosedFrame, check_pose
from vantage.data.schema import DatasetError
from vantage.io import atomic_write_text

__all__ = ["read_nerfstudio", "write_nerfstudio"]

_FILES = {"transforms.json": None, "transforms_train.json": "train", "transforms_val.json": "val",
          "transforms_test.json": "test"}  # fmt: skip


def _has_transforms(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _FILES)


def _number(spec: dict, key: str, where: str) -> float | None:
    if key not in spec:
        return None
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DatasetError(f"{where}: {key}={value!r} must be a finite number")
    return float(value)


def _frame(source: Path, folder: Path, obj: str, cat: str, glob: dict, spec: Any, where: str,
           split: str | None) -> PosedFrame:  # fmt: skip
    if not isinstance(spec, dict):
        raise DatasetError(f"{where}: a frame must be a JSON object")
    for key in ("file_path", "transform_matrix"):
        if key not in spec:
            raise DatasetError(f"{where}: missing {key}")
    path = resolve(folder, spec["file_path"], where)
    if not path.is_file() and not path.suffix:
        path = path.with_suffix(".png")  # Blender-style sets name frames without their extension
    merged = {**glob, **spec}
    w, h = _number(merged, "w", where), _number(merged, "h", where)
    if w is None or h is None:
        w, h = image_size(path, where)
    fx, fy = _number(merged, "fl_x", where), _number(merged, "fl_y", where)
    if fx is None:
        angle = _number(merged, "camera_angle_x", where)
        if angle is None:
            raise DatasetError(f"{where}: no focal length (fl_x or camera_angle_x), per frame or for the file")
        fx = 0.5 * w / math.tan(0.5 * angle)
    if fy is None:
        angle = _number(merged, "camera_angle_y", where)
        fy = 0.5 * h / math.tan(0.5 * angle) if angle is not None else fx
    cx, cy = _number(merged, "cx", where), _number(merged, "cy", where)
    try:
        c2w = np.asarray(spec["transform_matrix"], dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: transform_matrix is not a matrix of numbers") from None
    if c2w.shape == (3, 4):
        c2w = np.vstack([c2w, [0.0, 0.0, 0.0, 1.0]])
    if c2w.shape == (4, 4):
        c2w = c2w @ GL_TO_CV
    base = source.resolve()
    mask = resolve(folder, spec["mask_path"], where).relative_to(base).as_posix() if spec.get("mask_path") else None
    frame = PosedFrame(where, path.relative_to(base).as_posix(), obj, c2w, fx, fy, w / 2 if cx is None else cx,
                       h / 2 if cy is None else cy, int(w), int(h), category=cat, mask=mask,
                       extra={"split": split} if split else {})  # fmt: skip
    return check_pose(frame)


def read_nerfstudio(source: Path) -> list[PosedFrame]:
    """Every frame of the ``transforms*.json`` capture in ``source`` (one object) or in each of its sub-folders
    (one object each, named by the folder; category from ``category.txt``, else the folder name)."""
    frames: list[PosedFrame] = []
    for folder in object_folders(source, _has_transforms):
        obj, cat = folder.name, read_category(folder)
        for name, split in _FILES.items():
            path = folder / name
            if not path.is_file():
                continue
            data = read_json(path, "nerfstudio transforms")
            if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
                raise DatasetError(f"{path}: not a transforms file (needs a 'frames' list)")
            glob = {k: v for k, v in data.items() if k != "frames"}
            for i, spec in enumerate(data["frames"]):
                frames.append(_frame(source, folder, obj, cat, glob, spec, f"{path} frame {i}", split))
    return frames


def write_nerfstudio(out: Path, objects: list[ExportObject]) -> int:
    """One folder per object under ``out``: ``images/`` and a ``transforms.json`` with per-frame OPENCV
    intrinsics and OpenGL camera-to-world matrices; ``category.txt`` names its category. Returns the frames."""
    count = 0
    for obj in objects:
        folder = out / obj.object_id
        entries = []
        for f in obj.frames:
            name = f"images/{Path(f.file).name}"
            copy_file(Path(f.file), folder / name)
            entries.append({"file_path": name, "transform_matrix": (f.cam_to_world @ GL_TO_CV).tolist(),
                            "fl_x": f.fx, "fl_y": f.fy, "cx": f.cx, "cy": f.cy,
                            "w": f.width, "h": f.height})  # fmt: skip
        atomic_write_text(folder / "transforms.json",
                          json.dumps({"camera_model": "OPENCV", "frames": entries}, indent=1) + "\n")  # fmt: skip
        atomic_write_text(folder / CATEGORY_FILE, obj.category + "\n")
        count += len(entries)
    return count
