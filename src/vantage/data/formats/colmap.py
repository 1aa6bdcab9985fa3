"""COLMAP sparse models, text (``cameras.txt``, ``images.txt``) or binary (``cameras.bin``, ``images.bin``):
per image a world-to-camera rotation as a quaternion (QW QX QY QZ) and translation (TX TY TZ), in OpenCV
camera axes, so camera-to-world = [R^T | -R^T t]. The model lies in ``sparse/0/``, ``sparse/`` or the object
folder itself; image names are relative to the object folder's ``images/``. One object per folder."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from vantage.data.formats.common import CATEGORY_FILE, ExportObject, copy_file, object_folders, read_category, resolve
from vantage.data.formats.frame import PosedFrame, check_pose
from vantage.data.schema import DatasetError
from vantage.geometry import qvec_to_rotation, rotation_to_qvec
from vantage.io import atomic_write_bytes, atomic_write_text

__all__ = ["CAMERA_MODELS", "read_colmap", "write_colmap"]

# model name -> (id, number of parameters, indices of fx, fy, cx, cy among them)
CAMERA_MODELS = {
    "SIMPLE_PINHOLE": (0, 3, (0, 0, 1, 2)), "PINHOLE": (1, 4, (0, 1, 2, 3)),
    "SIMPLE_RADIAL": (2, 4, (0, 0, 1, 2)), "RADIAL": (3, 5, (0, 0, 1, 2)), "OPENCV": (4, 8, (0, 1, 2, 3)),
    "OPENCV_FISHEYE": (5, 8, (0, 1, 2, 3)), "FULL_OPENCV": (6, 12, (0, 1, 2, 3)), "FOV": (7, 5, (0, 1, 2, 3)),
    "SIMPLE_RADIAL_FISHEYE": (8, 4, (0, 0, 1, 2)), "RADIAL_FISHEYE": (9, 5, (0, 0, 1, 2)),
    "THIN_PRISM_FISHEYE": (10, 12, (0, 1, 2, 3)),
}  # fmt: skip
_BY_ID = {v[0]: k for k, v in CAMERA_MODELS.items()}
_PLACES = ("sparse/0", "sparse", ".")


def _model_dir(folder: Path) -> Path | None:
    for place in _PLACES:
        d = folder / place
        if (d / "images.txt").is_file() or (d / "images.bin").is_file():
            return d
    return None


def _numbers(parts: list[str], where: str, what: str) -> list[float]:
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise DatasetError(f"{where}: {what} must be numbers, got {' '.join(parts)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise DatasetError(f"{where}: {what} hold a non-finite number (NaN or inf)")
    return values


def _data_lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    return [(i, line) for i, line in enumerate(text.splitlines(), 1) if not line.lstrip().startswith("#")]


def _read_cameras_txt(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    cams = {}
    for lineno, line in _data_lines(path):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{lineno}"
        if len(parts) < 4 or not parts[0].isdigit():
            raise DatasetError(f"{where}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        cams[int(parts[0])] = (parts[1], *map(int, _numbers(parts[2:4], where, "WIDTH HEIGHT")),
                               _numbers(parts[4:], where, "PARAMS"))  # fmt: skip
    return cams


def _read_images_txt(path: Path) -> list[tuple[str, int, list[float], list[float], int, str]]:
    out, lines = [], _data_lines(path)
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        parts = line.split(maxsplit=9)
        if not parts:
            k += 1
            continue
        where = f"{path}:{lineno}"
        if len(parts) < 10:
            raise DatasetError(f"{where}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        values = _numbers(parts[1:8], where, "QW QX QY QZ TX TY TZ")
        if not parts[8].isdigit():
            raise DatasetError(f"{where}: CAMERA_ID={parts[8]!r} must be an integer")
        out.append((where, int(parts[8]), values[:4], values[4:], int(parts[0]), parts[9].strip()))
        k += 2  # the second line of each image lists its 2D points
    return out


def _read_cameras_bin(path: Path) -> dict[int, tuple[str, int, int, list[float]]]:
    data, cams = path.read_bytes(), {}
    try:
        (n,), off = struct.unpack_from("<Q", data, 0), 8
        for _ in range(n):
            cam_id, model_id, w, h = struct.unpack_from("<iiQQ", data, off)
            off += 24
            if model_id not in _BY_ID:
                raise DatasetError(f"{path}: camera {cam_id} has unknown model id {model_id}")
            name = _BY_ID[model_id]
            k = CAMERA_MODELS[name][1]
            cams[cam_id] = (name, w, h, list(struct.unpack_from(f"<{k}d", data, off)))
            off += 8 * k
    except struct.error:
        raise DatasetError(f"{path}: truncated or not a COLMAP cameras.bin") from None
    return cams


def _read_images_bin(path: Path) -> list[tuple[str, int, list[float], list[float], int, str]]:
    data, out = path.read_bytes(), []
    try:
        (n,), off = struct.unpack_from("<Q", data, 0), 8
        for i in range(n):
            image_id, *vals, cam_id = struct.unpack_from("<i7di", data, off)
            off += 64
            end = data.index(b"\x00", off)
            name = data[off:end].decode("utf-8")
            (npts,) = struct.unpack_from("<Q", data, end + 1)
            off = end + 9 + 24 * npts
            out.append((f"{path} image {i} ({name})", cam_id, list(vals[:4]), list(vals[4:]), image_id, name))
    except (struct.error, ValueError, UnicodeDecodeError):
        raise DatasetError(f"{path}: truncated or not a COLMAP images.bin") from None
    return out


def read_colmap(source: Path) -> list[PosedFrame]:
    """Every registered image of the COLMAP model of ``source`` (one object) or of each sub-folder (one object
    each, named by the folder; category from ``category.txt``, else the folder name)."""
    frames: list[PosedFrame] = []
    base = source.resolve()
    for folder in object_folders(source, lambda f: _model_dir(f) is not None):
        model = _model_dir(folder)
        assert model is not None
        binary = not (model / "images.txt").is_file()
        cam_file = model / ("cameras.bin" if binary else "cameras.txt")
        if not cam_file.is_file():
            raise DatasetError(f"{model}: the COLMAP model has no {cam_file.name}")
        cams = _read_cameras_bin(cam_file) if binary else _read_cameras_txt(cam_file)
        images = _read_images_bin(model / "images.bin") if binary else _read_images_txt(model / "images.txt")
        obj, cat = folder.name, read_category(folder)
        image_dir = folder / "images"
        for where, cam_id, q, t, _, name in images:
            if cam_id not in cams:
                raise DatasetError(f"{where}: CAMERA_ID {cam_id} is not in {cam_file}")
            if math.sqrt(sum(v * v for v in q)) < 1e-12:
                raise DatasetError(f"{where}: the quaternion QW QX QY QZ has zero length")
            path = resolve(image_dir, name, where)
            if not path.is_file():
                raise DatasetError(f"{where}: image {name} is not in {image_dir}")
            model_name, w, h, params = cams[cam_id]
            if model_name not in CAMERA_MODELS or len(params) != CAMERA_MODELS[model_name][1]:
                raise DatasetError(f"{cam_file}: camera {cam_id} ({model_name}, {len(params)} parameters) is not a "
                                   f"known COLMAP camera model ({', '.join(CAMERA_MODELS)})")  # fmt: skip
            fx, fy, cx, cy = (params[i] for i in CAMERA_MODELS[model_name][2])
            rot = qvec_to_rotation(np.asarray(q))
            c2w = np.eye(4)
            c2w[:3, :3], c2w[:3, 3] = rot.T, -rot.T @ np.asarray(t)
            frames.append(check_pose(PosedFrame(where, path.relative_to(base).as_posix(), obj, c2w, fx, fy, cx, cy,
                                                int(w), int(h), category=cat)))  # fmt: skip
    return frames


def write_colmap(out: Path, objects: list[ExportObject], binary: bool = False) -> int:
    """One folder per object under ``out``: ``images/`` and ``sparse/0/`` with ``cameras``, ``images`` and an
    empty ``points3D`` (text, or binary), one PINHOLE camera per distinct intrinsics; ``category.txt`` names the
    category. Returns the frames written."""
    count = 0
    for obj in objects:
        folder = out / obj.object_id
        cams: dict[tuple, int] = {}
        images = []
        for i, f in enumerate(obj.frames, 1):
            name = Path(f.file).name
            copy_file(Path(f.file), folder / "images" / name)
            key = (f.width, f.height, f.fx, f.fy, f.cx, f.cy)
            cam_id = cams.setdefault(key, len(cams) + 1)
            rot = f.cam_to_world[:3, :3].T
            images.append((i, rotation_to_qvec(rot), -rot @ f.cam_to_world[:3, 3], cam_id, name))
        model = folder / "sparse" / "0"
        if binary:
            cam_bytes = struct.pack("<Q", len(cams)) + b"".join(
                struct.pack("<iiQQ4d", cid, CAMERA_MODELS["PINHOLE"][0], k[0], k[1], *k[2:]) for k, cid in cams.items())
            img_bytes = struct.pack("<Q", len(images)) + b"".join(
                struct.pack("<i7di", i, *q, *t, cid) + name.encode() + b"\x00" + struct.pack("<Q", 0)
                for i, q, t, cid, name in images)  # fmt: skip
            atomic_write_bytes(model / "cameras.bin", cam_bytes)
            atomic_write_bytes(model / "images.bin", img_bytes)
            atomic_write_bytes(model / "points3D.bin", struct.pack("<Q", 0))
        else:
            cam_text = "# CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]\n" + "".join(
                f"{cid} PINHOLE {k[0]} {k[1]} {' '.join(repr(float(v)) for v in k[2:])}\n" for k, cid in cams.items())
            img_text = "# IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, then a line of POINTS2D[]\n"
            img_text += "".join(f"{i} {' '.join(repr(float(v)) for v in (*q, *t))} {cid} {name}\n\n"
                                for i, q, t, cid, name in images)  # fmt: skip
            atomic_write_text(model / "cameras.txt", cam_text)
            atomic_write_text(model / "images.txt", img_text)
            atomic_write_text(model / "points3D.txt", "# POINT3D_ID X Y Z R G B ERROR TRACK[]\n")
        atomic_write_text(folder / CATEGORY_FILE, obj.category + "\n")
        count += len(images)
    return count
