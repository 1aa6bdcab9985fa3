"""`vantage data export`: write any vantage dataset whose rows carry camera poses (rendered ones: exact) as
nerfstudio / instant-ngp, COLMAP or CO3D captures, one object per scene, for NeRF and Gaussian-splatting tools
and for the import round trip. The folder appears complete or not at all (written under a temporary name, then
renamed), and ``--overwrite`` replaces only an earlier export."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vantage.data.formats import POSED_FORMATS, WRITERS, ExportObject, PosedFrame, rigid
from vantage.data.schema import DatasetError, ViewRecord, inside, load_card, load_records
from vantage.io import atomic_write_json, temp_folder

__all__ = ["EXPORT_CARD", "ExportResult", "camera_table", "export_dataset", "record_intrinsics"]

EXPORT_CARD = "vantage_export.json"


@dataclass
class ExportResult:
    """What an export wrote."""

    root: Path
    format: str
    objects: int
    frames: int


def record_intrinsics(rec: ViewRecord, width: int, height: int) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels of a row: the ones an import kept (``extra.intrinsics``), else a centred pinhole
    with the row's vertical field of view ``fov_deg`` over an image of ``width`` x ``height``."""
    k = rec.extra.get("intrinsics")
    if isinstance(k, dict) and all(isinstance(k.get(n), int | float) for n in ("fx", "fy", "cx", "cy")):
        return float(k["fx"]), float(k["fy"]), float(k["cx"]), float(k["cy"])
    if rec.fov_deg is None:
        raise DatasetError(f"{rec.file_name}: the row has no field of view (fov_deg) or intrinsics to export")
    f = 0.5 * height / math.tan(math.radians(rec.fov_deg) / 2.0)
    return f, f, width / 2.0, height / 2.0


def _objects(root: Path, records: list[ViewRecord]) -> list[ExportObject]:
    from PIL import Image

    by_obj: dict[str, list[ViewRecord]] = {}
    for r in records:
        by_obj.setdefault(r.object_id, []).append(r)
    out = []
    for obj, rows in sorted(by_obj.items()):
        frames, names = [], set()
        for r in rows:
            if r.cam_to_world is None:
                raise DatasetError(f"{root}: row {r.file_name} has no camera pose (cam_to_world); only posed rows "
                                   "can be exported (use --view-set to choose posed ones)")  # fmt: skip
            path = inside(root, r.file_name)
            if path.name in names:
                raise DatasetError(f"{root}: two images of object {obj} are named {path.name}; export needs one "
                                   "name per image of an object")  # fmt: skip
            names.add(path.name)
            with Image.open(path) as im:
                w, h = im.size
            fx, fy, cx, cy = record_intrinsics(r, w, h)
            c2w = rigid(r.cam_to_world, f"{root}: row {r.file_name}")  # stored to 6 decimals: made exactly rigid
            frames.append(PosedFrame(r.file_name, str(path), obj, c2w, fx, fy, cx, cy, w, h, category=r.category))
        out.append(ExportObject(obj, rows[0].category, frames))
    return out


def export_dataset(root: str | Path, out: str | Path, fmt: str, view_set: str | None = None, binary: bool = False,
                   overwrite: bool = False) -> ExportResult:  # fmt: skip
    """Write the posed rows of the dataset at ``root`` (those of ``view_set``, when given) to ``out`` as ``fmt``
    (nerfstudio, colmap: text, or binary with ``binary``; co3d)."""
    root, out = Path(root), Path(out)
    if fmt not in POSED_FORMATS:
        raise DatasetError(f"--format must be one of {POSED_FORMATS}, got {fmt!r}")
    if binary and fmt != "colmap":
        raise DatasetError("--binary applies to --format colmap only")
    card = load_card(root)
    records = load_records(root)
    if view_set is not None:
        records = [r for r in records if r.view_set == view_set]
        if not records:
            sets = sorted({r.view_set for r in load_records(root)})
            raise DatasetError(f"{root} has no rows of view set {view_set!r} (it has {', '.join(sets)})")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DatasetError(f"{out} exists and is not empty; pass --overwrite to replace it")
        if not (out / EXPORT_CARD).is_file():
            raise DatasetError(f"{out} is not empty and holds no vantage export (no {EXPORT_CARD}); --overwrite only "
                               "replaces an export vantage wrote, so choose another folder")  # fmt: skip
    src, dst = root.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise DatasetError(f"--out {out} is or lies inside the dataset {root}; choose another folder")
    objects = _objects(root, records)
    tmp = temp_folder(out, "exporting", "an export")
    try:
        writer = WRITERS[fmt]
        frames = writer(tmp, objects, binary=binary) if fmt == "colmap" else writer(tmp, objects)
        atomic_write_json(tmp / EXPORT_CARD, {"format": fmt, "binary": binary, "source": str(src),
                                              "source_manifest": card.get("manifest_hash"), "view_set": view_set,
                                              "objects": len(objects), "frames": frames,
                                              "camera_convention": "OpenCV cam_to_world of the source rows, "
                                              "converted to the format's own convention"})  # fmt: skip
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out, fmt, len(objects), frames)



def camera_table(root: str | Path, object_id: str | None = None, view_set: str | None = None,
                 ) -> tuple[str, np.ndarray, np.ndarray, dict | None]:  # fmt: skip
    """(object id, poses (N, 4, 4), intrinsics (N, 6): fx fy cx cy width height, the object frame an import
    derived or None) of one object's posed rows (the first object when none is named)."""
    from PIL import Image

    root = Path(root)
    rows = [r for r in load_records(root) if view_set is None or r.view_set == view_set]
    objects = sorted({r.object_id for r in rows})
    if not objects:
        raise DatasetError(f"{root} has no rows" + (f" of view set {view_set!r}" if view_set else ""))
    obj = objects[0] if object_id is None else object_id
    if obj not in objects:
        more = ", ..." if len(objects) > 5 else ""
        raise DatasetError(f"{root} has no object {obj!r} (it has {', '.join(objects[:5])}{more})")
    rows = [r for r in rows if r.object_id == obj]
    if any(r.cam_to_world is None for r in rows):
        raise DatasetError(f"{root}: object {obj} has rows without a camera pose (cam_to_world)")
    with Image.open(inside(root, rows[0].file_name)) as im:
        w, h = im.size
    k = np.array([[*record_intrinsics(r, w, h), w, h] for r in rows])
    poses = np.stack([rigid(r.cam_to_world, f"{root}: row {r.file_name}") for r in rows])
    return obj, poses, k, load_card(root).get("object_frames", {}).get(obj)
