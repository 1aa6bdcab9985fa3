"""Import a multi-view image set of your own into the data contract (`vantage data import`).

Two ways to say where each image was taken from:

* a **table** (CSV or JSONL) with one row per image: ``file`` (relative to the image folder), ``object_id``,
  ``azimuth_deg``; optional ``elevation_deg``, ``category`` (default: the object id), ``split`` (default:
  ``--split``), ``sequence_id``, ``frame_index``, ``camera_id`` and a bounding box ``bbox_x``, ``bbox_y``,
  ``bbox_w``, ``bbox_h`` (pixels) to crop to;
* a **folder convention** for turntable sets named ``<object>__<n>.<ext>``, with the azimuth rule stated:
  ``coil20`` (n is the pose index of 72, azimuth = 5 n: COIL-20), ``coil100`` (n is the azimuth in degrees,
  0..355 in steps of 5: COIL-100), ``degrees`` (n is the azimuth in degrees) or ``index`` (n is the pose index
  of the object's N images, evenly spaced: azimuth = 360 n / N).

Every row is checked (file inside the folder and readable, angles finite and in range, box inside the image) and
errors name the table file and line. Images are written as PNG (cropped, optionally resized) under
``images/<object>/``, with ``metadata.jsonl``, ``checksums.sha256`` and ``dataset.json``; the result is read by
every evaluator (``--real``), by ``vantage data verify`` and by HF ``imagefolder``. The folder appears
complete or not at all (written under a temporary name, then renamed).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vantage.config import MAX_IMAGE_SIZE as MAX_SIZE
from vantage.data.formats.frame import PosedFrame, fov_deg
from vantage.data.schema import (
    CARD_FILE,
    CHECKSUM_FILE,
    METADATA_FILE,
    SPLITS,
    DatasetError,
    ViewRecord,
    check_relative_path,
    inside,
    load_records,
)
from vantage.io import atomic_write_bytes, atomic_write_json, atomic_write_text, is_locked, sha256_bytes, temp_folder

__all__ = ["CONVENTIONS", "RESIZE_MODES", "ImportResult", "import_dataset", "read_import_table"]

CONVENTIONS = ("coil20", "coil100", "degrees", "index")
RESIZE_MODES = ("pad", "stretch")
TABLE_NAMES = ("labels.csv", "labels.jsonl")  # used from the image folder when no table or convention is given
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_NAME = re.compile(r"^(?P<obj>.+?)__(?P<n>\d+)\.[A-Za-z]+$")
_BBOX = ("bbox_x", "bbox_y", "bbox_w", "bbox_h")


@dataclass
class ImportResult:
    """What an import wrote."""

    root: Path
    images: int
    objects: int
    manifest_hash: str


@dataclass
class _Row:
    where: str  # "<table>:<line>" or the file name, for errors
    file: str
    object_id: str
    category: str
    azimuth: float
    elevation: float | None
    split: str
    extra: dict[str, Any]
    bbox: tuple[float, float, float, float] | None
    pose: PosedFrame | None = None  # camera-posed formats: the frame as read (OpenCV cam_to_world, intrinsics)
    distance: float | None = None


def read_import_table(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs of a CSV (header line 1) or JSONL table; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"import table {path} does not exist")
    rows: list[tuple[int, dict[str, Any]]] = []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # spreadsheet programs start CSV files with a byte-order mark
    except UnicodeDecodeError as e:
        lineno = raw.count(b"\n", 0, e.start) + 1
        raise DatasetError(f"{path}:{lineno}: not UTF-8 text (save the table as UTF-8)") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: a row must be a JSON object")
            rows.append((lineno, row))
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for lineno, row in enumerate(reader, 2):
            if None in row:
                raise DatasetError(f"{path}:{lineno}: more values than the header has columns")
            rows.append((lineno, {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()
                                  if v not in (None, "")}))  # fmt: skip
    if not rows:
        raise DatasetError(f"import table {path} has no rows")
    return rows


def _number(row: dict[str, Any], key: str, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(row[key], bool):
        raise DatasetError(f"{where}: {key}={row[key]!r} is not a number")
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: {key}={row[key]!r} is not a number") from None
    if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise DatasetError(f"{where}: {key}={row[key]!r} is out of range [{lo}, {hi}]")
    return value


def _rows_from_table(path: Path, default_split: str) -> list[_Row]:
    out = []
    for lineno, row in read_import_table(path):
        where = f"{path}:{lineno}"
        missing = [k for k in ("file", "object_id", "azimuth_deg") if k not in row]
        if missing:
            raise DatasetError(f"{where}: missing column(s) {', '.join(missing)} (need file, object_id, azimuth_deg)")
        az = _number(row, "azimuth_deg", where, -360, 720) % 360.0
        el = _number(row, "elevation_deg", where, -90, 90) if "elevation_deg" in row else None
        boxes = [k for k in _BBOX if k in row]
        if boxes and len(boxes) != 4:
            raise DatasetError(f"{where}: a bounding box needs all of {', '.join(_BBOX)}")
        bbox = tuple(_number(row, k, where, 0) for k in _BBOX) if boxes else None
        split = str(row.get("split", default_split))
        if split not in SPLITS:
            raise DatasetError(f"{where}: split={split!r} must be one of {SPLITS}")
        extra = {}
        for key in ("sequence_id", "camera_id"):
            if key in row:
                extra[key] = str(row[key])
        if "frame_index" in row:
            extra["frame_index"] = int(_number(row, "frame_index", where, 0))
        if ("frame_index" in row) != ("sequence_id" in row):
            raise DatasetError(f"{where}: sequence_id and frame_index must be given together")
        obj = str(row["object_id"])
        out.append(_Row(where, str(row["file"]), obj, str(row.get("category", obj)), az, el, split, extra, bbox))
    return out


def _rows_from_convention(source: Path, convention: str, split: str) -> list[_Row]:
    if convention not in CONVENTIONS:
        raise DatasetError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    files = [p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")]
    names = sorted(p.name for p in files if p.suffix.lower() in IMAGE_EXTS)
    other = sorted(p.name for p in files if p.suffix.lower() not in IMAGE_EXTS)
    if other:
        print(f"[vantage] skipped {len(other)} file(s) in {source} that are not images ({', '.join(other[:3])}"
              f"{', ...' if len(other) > 3 else ''})", file=sys.stderr)  # fmt: skip
    matched = [(n, _NAME.match(n)) for n in names]
    odd = [n for n, m in matched if m is None]
    if odd:
        raise DatasetError(f"{source}/{odd[0]}: not named <object>__<number>.<ext> as the {convention} convention needs"
                           f" ({len(odd)} such file(s); use a table for other names)")  # fmt: skip
    if not matched:
        raise DatasetError(f"{source} has no images")
    per_obj: dict[str, list[tuple[str, int]]] = {}
    for n, m in matched:
        per_obj.setdefault(m["obj"], []).append((n, int(m["n"])))
    out = []
    for obj, files in per_obj.items():
        count = len(files)
        for name, n in files:
            where = f"{source}/{name}"
            if convention == "coil20":
                if n >= 72:
                    raise DatasetError(f"{where}: COIL-20 pose indices are 0..71, got {n}")
                az = 5.0 * n
            elif convention == "coil100":
                if n >= 360 or n % 5:
                    raise DatasetError(f"{where}: COIL-100 names carry the azimuth in degrees (0..355, steps of 5), "
                                       f"got {n}")  # fmt: skip
                az = float(n)
            elif convention == "degrees":
                if n >= 360:
                    raise DatasetError(f"{where}: azimuth {n} is not in [0, 360) degrees")
                az = float(n)
            else:
                if n >= count:
                    raise DatasetError(f"{where}: pose index {n} but object {obj} has only {count} images "
                                       "(the index convention needs indices 0..N-1)")  # fmt: skip
                az = 360.0 * n / count
            out.append(_Row(where, name, obj, obj, az, None, split, {}, None))
    return out


def _rows_from_posed(source: Path, fmt: str, split: str, up: str) -> tuple[list[_Row], dict[str, Any]]:
    """Rows of a camera-posed capture, with azimuth, elevation and distance in each object's derived frame, and
    those frames (for the card)."""
    from vantage.data.formats import READERS, derive_object_frame

    posed = READERS[fmt](source)
    if not posed:
        raise DatasetError(f"{source}: the {fmt} capture lists no frames")
    by_obj: dict[str, list[Any]] = {}
    for f in posed:
        by_obj.setdefault(f.object_id, []).append(f)
    rows, frames = [], {}
    for obj, group in sorted(by_obj.items()):
        poses = np.stack([f.cam_to_world for f in group])
        frame = derive_object_frame(poses, up, where=f"{source}: object {obj}")
        frames[obj] = frame.to_json()
        az, el, dist = frame.spherical(poses[:, :3, 3])
        for f, a, e, d in zip(group, az, el, dist, strict=True):
            row_split = f.extra.get("split", split)
            extra = {k: v for k, v in (("sequence_id", f.sequence_id), ("frame_index", f.frame_index)) if v is not None}
            rows.append(_Row(f.where, f.file, obj, f.category or obj, float(a) % 360.0, float(e), row_split, extra,
                             None, pose=f, distance=float(d)))  # fmt: skip
    return rows, frames


def _fit(img: Any, size: int, resize: str, resample: int | None = None) -> tuple[Any, tuple[float, ...]]:
    """``img`` at ``size`` x ``size``: stretched, or (pad) scaled to fit its longer side and centred on black;
    with the pixel map (sx, sy, ox, oy): a point (x, y) of ``img`` lands at (sx x + ox, sy y + oy)."""
    from PIL import Image

    resample = Image.BICUBIC if resample is None else resample
    if resize == "stretch" or img.width == img.height:
        return img.resize((size, size), resample), (size / img.width, size / img.height, 0.0, 0.0)
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = Image.new(img.mode, (size, size))
    ox, oy = (size - w) // 2, (size - h) // 2
    canvas.paste(img.resize((w, h), resample), (ox, oy))
    return canvas, (w / img.width, h / img.height, float(ox), float(oy))


def _open(source: Path, rel: str, where: str, mode: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    check_relative_path(rel, f"{where}: file")
    path = inside(source, rel)
    if not path.is_file():
        raise DatasetError(f"{where}: file {rel} does not exist in {source}")
    try:
        with Image.open(path) as im:
            return im.convert(mode)
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(f"{where}: {rel} is not a readable image ({type(e).__name__})") from None


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _load_image(source: Path, row: _Row, size: int | None, resize: str = "pad") -> tuple[bytes, tuple[float, ...]]:
    """The row's image as PNG bytes (cropped to its box, fitted to ``size``) and the pixel map from the source
    image (sx, sy, ox, oy), which carries the intrinsics of posed rows."""
    img = _open(source, row.file, row.where, "RGB")
    if row.pose is not None and img.size != (row.pose.width, row.pose.height):
        raise DatasetError(f"{row.where}: {row.file} is {img.width}x{img.height}, but the capture gives its camera "
                           f"for a {row.pose.width}x{row.pose.height} image")  # fmt: skip
    pixel_map = (1.0, 1.0, 0.0, 0.0)
    if row.bbox is not None:
        x, y, w, h = row.bbox
        if w < 1 or h < 1 or x + w > img.width or y + h > img.height:
            raise DatasetError(f"{row.where}: bounding box x={x:g} y={y:g} w={w:g} h={h:g} is not inside the "
                               f"{img.width}x{img.height} image")  # fmt: skip
        img = img.crop((round(x), round(y), round(x + w), round(y + h)))
        pixel_map = (1.0, 1.0, -float(round(x)), -float(round(y)))
    if size is not None:
        img, (sx, sy, ox, oy) = _fit(img, size, resize)
        pixel_map = (sx, sy, sx * pixel_map[2] + ox, sy * pixel_map[3] + oy)
    return _png(img), pixel_map


def _load_mask(source: Path, row: _Row, size: int | None, resize: str, shape: tuple[int, int]) -> bytes:
    """The row's mask (a posed capture's), binarised and fitted like its image (nearest neighbour)."""
    from PIL import Image

    assert row.pose is not None and row.pose.mask is not None
    mask = _open(source, row.pose.mask, row.where, "L")
    if mask.size != shape:
        raise DatasetError(f"{row.where}: mask {row.pose.mask} is {mask.width}x{mask.height}, the image "
                           f"{shape[0]}x{shape[1]}")  # fmt: skip
    mask = mask.point(lambda v: 255 if v >= 128 else 0)
    if size is not None:
        mask, _ = _fit(mask, size, resize, Image.NEAREST)
    return _png(mask)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


def import_dataset(source: str | Path, out: str | Path, table: str | Path | None = None,
                   convention: str | None = None, name: str | None = None, split: str = "test",
                   domain: str = "real", size: int | None = None, overwrite: bool = False,
                   resize: str = "pad", fmt: str | None = None, up: str = "auto") -> ImportResult:  # fmt: skip
    """Import the images under ``source`` (described by ``table``, named by ``convention``, or a camera-posed
    capture in format ``fmt``: nerfstudio, colmap, co3d) into ``out``; with none of them, a ``labels.csv`` or
    ``labels.jsonl`` in ``source`` is the table. ``size`` fits every (cropped) image to a square by ``resize``:
    pad (keep the aspect ratio, black borders) or stretch. Posed captures keep every camera pose; ``up`` (a world
    axis, or auto) fixes the object frame their azimuths are measured in."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise DatasetError(f"image folder {source} does not exist")
    if resize not in RESIZE_MODES:
        raise DatasetError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    if fmt is not None and fmt != "table":
        from vantage.data.formats import POSED_FORMATS, UP_CHOICES

        if fmt not in POSED_FORMATS:
            raise DatasetError(f"--format must be one of table, {', '.join(POSED_FORMATS)}; got {fmt!r}")
        if table is not None or convention is not None:
            raise DatasetError(f"--format {fmt} reads the poses from the capture; give no --table or --convention")
        if up not in UP_CHOICES:
            raise DatasetError(f"--up must be one of {', '.join(UP_CHOICES)}, got {up!r}")
    elif table is None and convention is None:
        found = [source / n for n in TABLE_NAMES if (source / n).is_file()]
        if len(found) > 1:
            raise DatasetError(f"{source} holds both {found[0].name} and {found[1].name}; say which with --table")
        if found:
            table = found[0]
            print(f"[vantage] using the table {table} (no --table given)", file=sys.stderr)
    if (fmt is None or fmt == "table") and (table is None) == (convention is None):
        raise DatasetError("give either a table (--table file.csv|.jsonl) or a folder convention (--convention)")
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {SPLITS}, got {split!r}")
    if size is not None and not 8 <= size <= MAX_SIZE:
        raise DatasetError(f"size must be in 8..{MAX_SIZE} pixels, got {size}")
    _check_out(source, out, overwrite)
    frames: dict[str, Any] = {}
    if fmt is not None and fmt != "table":
        rows, frames = _rows_from_posed(source, fmt, split, up)
    elif table is not None:
        rows = _rows_from_table(Path(table), split)
    else:
        rows = _rows_from_convention(source, str(convention), split)
    seen: dict[tuple[str, str], str] = {}
    for r in rows:
        key = (r.object_id, r.file)
        if key in seen:
            raise DatasetError(f"{r.where}: {r.file} of object {r.object_id} is listed twice (first at {seen[key]})")
        seen[key] = r.where
    tmp = temp_folder(out, "importing", "an import")
    try:
        records, files = _write_images(source, rows, tmp, domain, size, resize)
        manifest = _write_index(tmp, records, files, name or _safe_name(source.name), size, {
            "source": str(source.resolve()), "table": str(Path(table).resolve()) if table else None,
            "convention": convention, "resize": resize if size else None,
            **({"format": fmt, "up": up} if frames else {})}, frames)  # fmt: skip
        load_records(tmp)  # the reader every evaluator uses accepts what is about to be published
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ImportResult(out, len(records), len({r.object_id for r in records}), manifest)


def _check_out(source: Path, out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is, holds or lies inside the source folder, and never replace (``--overwrite``) a
    non-empty folder that is not a vantage dataset or that another vantage process is writing."""
    src, dst = source.resolve(), out.resolve()
    if dst == src or dst in src.parents or src in dst.parents:
        raise DatasetError(f"--out {out} is, holds or lies inside the image folder {source}; choose another folder")
    if not (out.exists() and any(out.iterdir())):
        return
    if not overwrite:
        raise DatasetError(f"{out} exists and is not empty; pass --overwrite to replace it")
    if not (out / CARD_FILE).is_file():
        raise DatasetError(f"{out} is not empty and holds no vantage dataset (no {CARD_FILE}); --overwrite only "
                           "replaces a dataset vantage wrote, so choose another folder")  # fmt: skip
    if is_locked(out):
        raise DatasetError(f"another vantage process is writing {out}; --overwrite does not replace it")


def _write_images(source: Path, rows: list[_Row], root: Path, domain: str, size: int | None,
                  resize: str = "pad") -> tuple[list[ViewRecord], dict[str, str]]:  # fmt: skip
    """Decode, fit and write every row's image (and mask) under ``root``, on a few threads (PIL releases the
    GIL while it decodes and encodes); the records come back in a fixed order, whatever the threads did."""
    from concurrent.futures import ThreadPoolExecutor

    by_obj: dict[str, list[_Row]] = {}
    for r in rows:
        by_obj.setdefault(r.object_id, []).append(r)
    plan, used = [], set()
    for obj in sorted(by_obj):
        folder = _safe_name(obj)
        for view_id, r in enumerate(sorted(by_obj[obj], key=lambda r: (r.azimuth, r.elevation or 0.0, r.file))):
            stem = _safe_name(Path(r.file).stem)
            rel = f"images/{folder}/{stem}.png"
            k = 1
            while rel in used:
                rel, k = f"images/{folder}/{stem}-{k}.png", k + 1
            used.add(rel)
            plan.append((view_id, r, rel))

    def write(item: tuple[int, _Row, str]) -> tuple[ViewRecord, dict[str, str]]:
        view_id, r, rel = item
        data, (sx, sy, ox, oy) = _load_image(source, r, size, resize)
        atomic_write_bytes(root / rel, data)
        files = {rel: sha256_bytes(data)}
        extra = {"source_file": r.file, **({"bbox": list(r.bbox)} if r.bbox else {})}
        pose: dict[str, Any] = {}
        if r.pose is not None:
            f = r.pose
            k = {"fx": f.fx * sx, "fy": f.fy * sy, "cx": f.cx * sx + ox, "cy": f.cy * sy + oy,
                 "width": size or f.width, "height": size or f.height}  # fmt: skip
            extra["intrinsics"] = k
            if f.bbox is not None:
                extra["bbox"] = list(f.bbox)
            pose = {"cam_to_world": f.cam_to_world.tolist(), "distance": r.distance,
                    "fov_deg": fov_deg(k["fy"], k["height"])}  # fmt: skip
            if f.mask is not None:
                pose["mask_file"] = f"masks/{rel.removeprefix('images/')}"
                mask = _load_mask(source, r, size, resize, (f.width, f.height))
                atomic_write_bytes(root / pose["mask_file"], mask)
                files[pose["mask_file"]] = sha256_bytes(mask)
        record = ViewRecord(
            file_name=rel, object_id=r.object_id, category=r.category, domain=domain, split=r.split,
            view_set="real", view_id=view_id, azimuth_deg=round(r.azimuth, 6), elevation_deg=r.elevation,
            sequence_id=r.extra.get("sequence_id"), frame_index=r.extra.get("frame_index"),
            camera_id=r.extra.get("camera_id"), extra=extra, **pose)  # fmt: skip
        return record, files

    records, files = [], {}
    pool = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)))
    try:
        for record, written in pool.map(write, plan):
            records.append(record)
            files.update(written)
    finally:  # a bad row (or Ctrl-C) stops the rows not yet started
        pool.shutdown(wait=True, cancel_futures=True)
    return records, files


def _write_index(root: Path, records: list[ViewRecord], files: dict[str, str], name: str, size: int | None,
                 source: dict[str, Any], frames: dict[str, Any] | None = None) -> str:  # fmt: skip
    checksums = "".join(f"{files[k]}  {k}\n" for k in sorted(files))
    manifest = sha256_bytes(checksums.encode())
    metadata = "".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in records)
    atomic_write_text(root / METADATA_FILE, metadata)
    atomic_write_text(root / CHECKSUM_FILE, checksums)

    def count(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in records:
            out[getattr(r, key)] = out.get(getattr(r, key), 0) + 1
        return dict(sorted(out.items()))

    card = {
        "name": name,
        "imported": source,
        "categories": {"in": sorted({r.category for r in records}), "out": []},
        "view_sets": {},
        "image_size": size,
        "counts": {"images": len(records), "files": len(files), "objects": len({r.object_id for r in records}),
                   "by_split": count("split"), "by_domain": count("domain"), "by_category": count("category")},
        "manifest_hash": manifest,
        "metadata_sha256": sha256_bytes(metadata.encode()),
        "checksums": CHECKSUM_FILE,
        "conventions": {"azimuth": "degrees, as the source table or naming convention gives them",
                        "elevation": "degrees, when the source gives it"},
    }  # fmt: skip
    if frames:
        card["object_frames"] = frames
        card["conventions"] = {
            "cam_to_world": "OpenCV camera-to-world (x right, y down, z forward) in the capture's own world frame",
            "azimuth": "degrees about each object's derived up axis from its azimuth-zero direction (object_frames)",
            "elevation": "degrees above the plane normal to that up axis through the object centre",
            "distance": "camera centre to object centre, in the capture's units",
            "intrinsics": "pixels of the written image (fx, fy, cx, cy; extra.intrinsics)"}  # fmt: skip
    atomic_write_json(root / CARD_FILE, card)
    return manifest
