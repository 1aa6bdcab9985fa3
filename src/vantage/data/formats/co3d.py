"""CO3D-style annotations: ``frame_annotations.jgz`` (gzipped JSON list of frames) and
``sequence_annotations.jgz`` (category per sequence) in a category folder. Each frame's ``viewpoint`` holds
PyTorch3D's world-to-view ``R`` and ``T`` (row vectors: X_view = X_world R + T; view axes +X left, +Y up, +Z
forward) and its focal length and principal point in NDC (``intrinsics_format`` ``ndc_isotropic``: scaled by
min(H, W) / 2; legacy ``ndc_norm_image_bounds``: by W / 2 and H / 2). In OpenCV axes the camera-to-world
rotation is R diag(-1, -1, 1) and the camera centre is -R T. Image and mask paths are relative to the dataset
root (``<category>/<sequence>/images/...``) or to the category folder; a sequence is one object."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from vantage.data.formats.common import ExportObject, copy_file, resolve
from vantage.data.formats.frame import PosedFrame, check_pose
from vantage.data.schema import DatasetError
from vantage.io import atomic_write_bytes

__all__ = ["read_co3d", "write_co3d"]

FRAMES, SEQUENCES = "frame_annotations.jgz", "sequence_annotations.jgz"
_FLIP = np.diag([-1.0, -1.0, 1.0])  # PyTorch3D view axes <-> OpenCV camera axes


def _read_jgz(path: Path) -> Any:
    try:
        return json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError):
        raise DatasetError(f"{path}: not a gzipped JSON file") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON inside the gzip (line {e.lineno}: {e.msg})") from None


def _vector(value: Any, n: int, where: str, what: str) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: {what} is not numbers") from None
    if v.size != n:
        raise DatasetError(f"{where}: {what} must hold {n} numbers, got {v.size}")
    if not np.isfinite(v).all():
        raise DatasetError(f"{where}: {what} holds a non-finite number (NaN or inf)")
    return v.reshape(-1)


def _category_folders(source: Path) -> list[Path]:
    if (source / FRAMES).is_file():
        return [source]
    found = sorted(p for p in source.iterdir() if p.is_dir() and (p / FRAMES).is_file())
    if not found:
        raise DatasetError(f"{source}: no {FRAMES} here or in its sub-folders")
    return found


def _local(folder: Path, rel: Any) -> Any:
    """A path as CO3D writes it (``<category>/<sequence>/...``, relative to the dataset root) made relative to
    the category ``folder``; a path already relative to the folder is kept."""
    if isinstance(rel, str) and not (folder / rel).exists() and rel.split("/", 1)[0] == folder.name and "/" in rel:
        return rel.split("/", 1)[1]
    return rel


def _frame(folder: Path, base: Path, spec: Any, where: str, categories: dict[str, str], default_cat: str) -> PosedFrame:
    if not isinstance(spec, dict):
        raise DatasetError(f"{where}: a frame annotation must be a JSON object")
    try:
        seq, image, vp = str(spec["sequence_name"]), spec["image"], spec["viewpoint"]
        rel, (h, w) = image["path"], image["size"]
        r, t = vp["R"], vp["T"]
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{where}: needs sequence_name, image.path, image.size [H, W], viewpoint.R and "
                           "viewpoint.T") from None  # fmt: skip
    path = resolve(folder, _local(folder, rel), where)
    if not path.is_file():
        raise DatasetError(f"{where}: image {rel} does not exist in {folder}")
    rot, trans = _vector(r, 9, where, "viewpoint.R").reshape(3, 3), _vector(t, 3, where, "viewpoint.T")
    f = _vector(vp.get("focal_length", [1.0, 1.0]), 2, where, "viewpoint.focal_length")
    p = _vector(vp.get("principal_point", [0.0, 0.0]), 2, where, "viewpoint.principal_point")
    fmt = vp.get("intrinsics_format", "ndc_norm_image_bounds")
    half = np.array([w, h], dtype=np.float64) / 2.0
    if fmt == "ndc_isotropic":
        scale = np.full(2, half.min())
    elif fmt == "ndc_norm_image_bounds":
        scale = half
    else:
        raise DatasetError(f"{where}: intrinsics_format={fmt!r} must be ndc_isotropic or ndc_norm_image_bounds")
    (fx, fy), (cx, cy) = f * scale, half - p * scale
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rot @ _FLIP, -rot @ trans
    mask = spec.get("mask") if isinstance(spec.get("mask"), dict) else None
    mask_rel = None
    if mask and mask.get("path"):
        mask_rel = resolve(folder, _local(folder, mask["path"]), where).relative_to(base).as_posix()
    bbox = spec.get("bbox_xywh")
    frame = PosedFrame(where, path.relative_to(base).as_posix(), seq, c2w, float(fx), float(fy), float(cx),
                       float(cy), int(w), int(h), category=categories.get(seq, default_cat), mask=mask_rel,
                       bbox=tuple(_vector(bbox, 4, where, "bbox_xywh")) if bbox is not None else None,
                       sequence_id=seq, frame_index=int(spec.get("frame_number", 0)))  # fmt: skip
    return check_pose(frame)


def read_co3d(source: Path) -> list[PosedFrame]:
    """Every annotated frame under ``source``: a category folder holding ``frame_annotations.jgz``, or a dataset
    root of such folders. Paths may start with the category folder's name (CO3D's layout: relative to the
    root) or not (relative to the category folder); either way they must stay inside that folder."""
    frames: list[PosedFrame] = []
    base = source.resolve()
    for folder in _category_folders(source):
        seqs_path = folder / SEQUENCES
        categories: dict[str, str] = {}
        if seqs_path.is_file():
            seqs = _read_jgz(seqs_path)
            if not isinstance(seqs, list):
                raise DatasetError(f"{seqs_path}: expected a JSON list of sequences")
            categories = {str(s.get("sequence_name")): str(s.get("category", folder.name))
                          for s in seqs if isinstance(s, dict)}  # fmt: skip
        path = folder / FRAMES
        data = _read_jgz(path)
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a JSON list of frame annotations")
        for i, spec in enumerate(data):
            frames.append(_frame(folder, base, spec, f"{path} frame {i}", categories, folder.name))
    return frames


def write_co3d(out: Path, objects: list[ExportObject]) -> int:
    """CO3D's layout under ``out``: per category ``<category>/frame_annotations.jgz`` and
    ``sequence_annotations.jgz``, images at ``<category>/<object>/images/`` (paths relative to ``out``), one
    sequence per object, intrinsics in ``ndc_isotropic``. Returns the frames written."""
    by_cat: dict[str, list[ExportObject]] = {}
    for obj in objects:
        by_cat.setdefault(obj.category, []).append(obj)
    count = 0
    for cat, objs in sorted(by_cat.items()):
        frames, seqs = [], []
        for obj in objs:
            seqs.append({"sequence_name": obj.object_id, "category": cat})
            for k, f in enumerate(obj.frames):
                rel = f"{cat}/{obj.object_id}/images/{Path(f.file).name}"
                copy_file(Path(f.file), out / rel)
                rot = f.cam_to_world[:3, :3] @ _FLIP
                scale = min(f.width, f.height) / 2.0
                half = np.array([f.width, f.height]) / 2.0
                frames.append({
                    "sequence_name": obj.object_id, "frame_number": k, "frame_timestamp": float(k),
                    "image": {"path": rel, "size": [f.height, f.width]},
                    "viewpoint": {"R": rot.tolist(), "T": (-rot.T @ f.cam_to_world[:3, 3]).tolist(),
                                  "focal_length": [f.fx / scale, f.fy / scale],
                                  "principal_point": ((half - np.array([f.cx, f.cy])) / scale).tolist(),
                                  "intrinsics_format": "ndc_isotropic"},
                })  # fmt: skip
        atomic_write_bytes(out / cat / FRAMES, gzip.compress(json.dumps(frames).encode(), mtime=0))
        atomic_write_bytes(out / cat / SEQUENCES, gzip.compress(json.dumps(seqs).encode(), mtime=0))
        count += len(frames)
    return count
