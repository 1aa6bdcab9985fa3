"""Torch Datasets over a built multi-view folder, and over real turntable image sets such as COIL-20."""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from vantage.data.sampling import keyed_rng
from vantage.data.schema import METADATA_FILE, DatasetError, ViewRecord, inside, load_card, load_records
from vantage.data.transforms import to_tensor

__all__ = [
    "CaptionPairDataset",
    "ImageTextDataset",
    "MultiViewDataset",
    "ObjectGroupDataset",
    "TripletDataset",
    "TurntableDataset",
    "filter_records",
    "hf_data_files",
    "load_real_records",
    "load_turntable_records",
]

Transform = Callable[[Image.Image], Any]


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def filter_records(
    records: Sequence[ViewRecord],
    split: str | Iterable[str] | None = None,
    view_set: str | Iterable[str] | None = None,
    category: str | Iterable[str] | None = None,
    domain: str | Iterable[str] | None = None,
) -> list[ViewRecord]:
    """Rows matching every given filter (each a value or a collection of values)."""
    want = {
        "split": _as_set(split),
        "view_set": _as_set(view_set),
        "category": _as_set(category),
        "domain": _as_set(domain),
    }
    return [r for r in records if all(v is None or getattr(r, k) in v for k, v in want.items())]


def _open_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise DatasetError(f"image file {path} is missing") from None
    except Exception as e:
        raise DatasetError(f"image file {path} is corrupt or unreadable: {type(e).__name__}: {e}") from e


class _RecordDataset(Dataset):
    """Shared machinery: rows, class index, image loading, per-view fields."""

    def __init__(
        self, root: str | Path, records: list[ViewRecord], classes: Sequence[str] | None, transform: Transform | None
    ) -> None:
        self.root = Path(root)
        self.records = records
        self.classes = list(classes) if classes is not None else sorted({r.category for r in records})
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.transform = transform if transform is not None else to_tensor()

    def image(self, rec: ViewRecord, transform: Transform | None = None) -> Any:
        """The row's image through ``transform`` (default: the dataset's)."""
        img = _open_rgb(inside(self.root, rec.file_name))
        return (transform or self.transform)(img)

    def view_fields(self, rec: ViewRecord) -> dict[str, Any]:
        """Pose and identity fields of a row as tensors / plain values (collate-friendly)."""
        el = float("nan") if rec.elevation_deg is None else float(rec.elevation_deg)
        c2w = torch.eye(4) if rec.cam_to_world is None else torch.tensor(rec.cam_to_world, dtype=torch.float32)
        return {
            "label": self.class_to_idx.get(rec.category, -1),
            "object_id": rec.object_id,
            "view_id": rec.view_id,
            "azimuth": float(rec.azimuth_deg),
            "elevation": el,
            "direction": torch.tensor(rec.direction(), dtype=torch.float32),
            "cam_to_world": c2w,
        }


def _default_classes(root: Path) -> list[str]:
    cats = load_card(root).get("categories", {})
    return list(cats.get("in", [])) + list(cats.get("out", []))


class MultiViewDataset(_RecordDataset):
    """Single views of a built dataset, filtered by split / view set / category / domain.

    Items are dicts: ``image``, ``label`` (index into ``classes``: in-domain categories first, then
    out-of-domain), ``object_id``, ``view_id``, ``azimuth``, ``elevation``, ``direction`` (unit vector
    toward the camera), ``cam_to_world``; plus ``depth`` (H, W) and ``mask`` (H, W) on request (the mask is
    read from its file, or derived as depth > 0 where only depth was written). ``where`` keeps only rows for
    which it returns true (e.g. ``lambda r: r.elevation_deg > 0`` for the upper half of a view set).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Iterable[str] | None = None,
        view_set: str | Iterable[str] | None = None,
        category: str | Iterable[str] | None = None,
        domain: str | Iterable[str] | None = None,
        transform: Transform | None = None,
        with_depth: bool = False,
        with_mask: bool = False,
        where: Callable[[ViewRecord], bool] | None = None,
    ) -> None:
        root = Path(root)
        records = filter_records(load_records(root), split, view_set, category, domain)
        if where is not None:
            records = [r for r in records if where(r)]
        if not records:
            raise DatasetError(
                f"no rows in {root} match split={split!r}, view_set={view_set!r}, category={category!r}, "
                f"domain={domain!r}" + (" and the row predicate" if where is not None else "")
            )
        super().__init__(root, records, _default_classes(root), transform)
        if with_depth and any(r.depth_file is None for r in records):
            raise DatasetError(
                f"depth requested but some selected rows in {root} have none; build with depth "
                "for these groups (config field `depth`) or filter to the test split"
            )
        if with_mask and any(r.mask_file is None and r.depth_file is None for r in records):
            raise DatasetError(
                f"mask requested but some selected rows in {root} have neither a mask nor a depth "
                "map to derive it from; build with `mask` or `depth` for these groups"
            )
        self.with_depth, self.with_mask = with_depth, with_mask

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        item = {"image": self.image(rec), "index": index, **self.view_fields(rec)}
        if self.with_depth:
            item["depth"] = torch.from_numpy(np.load(inside(self.root, rec.depth_file)).astype(np.float32))
        if self.with_mask:
            if rec.mask_file is not None:
                item["mask"] = torch.from_numpy(np.asarray(Image.open(inside(self.root, rec.mask_file))) > 127)
            else:  # masks are exactly the pixels with depth
                item["mask"] = torch.from_numpy(np.load(inside(self.root, rec.depth_file)) > 0)
        return item


class TripletDataset(_RecordDataset):
    """Adjacent-view triplets: ``left``, ``centre``, ``right`` unaugmented, plus two augmented copies of the
    centre (``centre_aug1``, ``centre_aug2``) when ``augment`` is given; ``directions`` is (3, 3) L/C/R.

    Indexing with an ``(epoch, index)`` key (see :class:`EpochSampler`) seeds the augmentations from
    (``seed``, epoch, index); a plain integer index uses epoch 0.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Iterable[str] | None = "train",
        view_set: str = "triplet",
        transform: Transform | None = None,
        augment: Transform | None = None,
        seed: int = 0,
    ) -> None:
        root = Path(root)
        records = filter_records(load_records(root), split=split, view_set=view_set)
        groups: dict[tuple[str, str], dict[int, ViewRecord]] = {}
        for r in records:
            if r.sequence_id is None or r.frame_index is None:
                raise DatasetError(
                    f"{root}: row {r.file_name} of view set {view_set!r} has no sequence_id/frame_index "
                    "(or triplet_id/triplet_pos)"
                )
            groups.setdefault((r.object_id, r.sequence_id), {})[r.frame_index] = r
        incomplete = [k[1] for k, g in groups.items() if set(g) != {0, 1, 2}]
        if incomplete:
            raise DatasetError(f"{root}: triplet {incomplete[0]} does not have exactly frames 0, 1, 2 (L, C, R)")
        if not groups:
            raise DatasetError(f"no triplets in {root} for split={split!r}, view_set={view_set!r}")
        order = sorted(groups, key=lambda k: (k[0], _natural(k[1])))
        self.triplets = [{"LCR"[i]: groups[k][i] for i in range(3)} for k in order]
        super().__init__(root, records, _default_classes(root), transform)
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        t = self.triplets[index]
        item = {
            "left": self.image(t["L"]),
            "centre": self.image(t["C"]),
            "right": self.image(t["R"]),
            "directions": torch.stack([torch.tensor(t[k].direction(), dtype=torch.float32) for k in "LCR"]),
            "index": index,
            **self.view_fields(t["C"]),
        }
        if self.augment is not None:
            centre = _open_rgb(self.root / t["C"].file_name)
            with keyed_rng(self.seed, epoch, index):
                item["centre_aug1"], item["centre_aug2"] = self.augment(centre), self.augment(centre)
        return item


class ObjectGroupDataset(_RecordDataset):
    """k views of one object per item (``images`` (k, C, H, W), ``directions`` (k, 3), ``view_ids`` (k,)).

    Views are drawn without replacement, deterministically from (seed, epoch, object); call
    :meth:`set_epoch` to draw new ones each epoch.
    """

    def __init__(
        self,
        root: str | Path,
        k: int,
        split: str | Iterable[str] | None = None,
        view_set: str | Iterable[str] | None = None,
        domain: str | Iterable[str] | None = None,
        transform: Transform | None = None,
        seed: int = 0,
    ) -> None:
        root = Path(root)
        records = filter_records(load_records(root), split=split, view_set=view_set, domain=domain)
        by_obj: dict[str, list[ViewRecord]] = {}
        for r in records:
            by_obj.setdefault(r.object_id, []).append(r)
        too_few = [o for o, rs in by_obj.items() if len(rs) < k]
        if k < 1 or too_few:
            raise DatasetError(f"k={k} views per object requested, but object {too_few[:1]} has fewer in {root}")
        self.objects = sorted(by_obj)
        self.by_object = by_obj
        self.k, self.seed, self.epoch = k, seed, 0
        super().__init__(root, records, _default_classes(root), transform)

    def set_epoch(self, epoch: int) -> None:
        """Change which views are drawn."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.objects)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rows = self.by_object[self.objects[index]]
        pick = np.random.default_rng([self.seed, self.epoch, index]).choice(len(rows), self.k, replace=False)
        chosen = [rows[i] for i in sorted(pick)]
        return {
            "images": torch.stack([self.image(r) for r in chosen]),
            "directions": torch.stack([torch.tensor(r.direction(), dtype=torch.float32) for r in chosen]),
            "view_ids": torch.tensor([r.view_id for r in chosen]),
            "label": self.class_to_idx.get(chosen[0].category, -1),
            "object_id": chosen[0].object_id,
            "index": index,
        }


class ImageTextDataset(_RecordDataset):
    """(image, caption) pairs; ``caption_field`` picks ``caption`` (no view words) or ``view_caption``."""

    def __init__(
        self,
        root: str | Path,
        split: str | Iterable[str] | None = "train",
        view_set: str | Iterable[str] | None = None,
        transform: Transform | None = None,
        caption_field: str = "caption",
    ) -> None:
        root = Path(root)
        records = filter_records(load_records(root), split=split, view_set=view_set)
        missing = [r.file_name for r in records if getattr(r, caption_field, None) is None]
        if missing:
            raise DatasetError(f"{root}: {len(missing)} rows have no {caption_field!r}, e.g. {missing[0]}")
        super().__init__(root, records, _default_classes(root), transform)
        self.caption_field = caption_field

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        return {
            "image": self.image(rec),
            "caption": getattr(rec, self.caption_field),
            "index": index,
            **self.view_fields(rec),
        }


class CaptionPairDataset(Dataset):
    """Image-text pairs from MVCap rows (:func:`vantage.data.captions.read_mvcap`): items hold ``image``,
    ``caption``, ``object`` (index into ``objects``, the sorted object ids) and ``index``."""

    def __init__(self, rows: Sequence[Any], transform: Transform | None = None,
                 objects: Sequence[str] | None = None) -> None:  # fmt: skip
        self.rows = list(rows)
        self.objects = list(objects) if objects is not None else sorted({r.obj_id for r in self.rows})
        self.object_to_idx = {o: i for i, o in enumerate(self.objects)}
        unknown = {r.obj_id for r in self.rows} - set(self.object_to_idx)
        if unknown:
            raise DatasetError(f"caption rows name objects not in the given object list, e.g. {sorted(unknown)[0]}")
        self.transform = transform if transform is not None else to_tensor()

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        return {
            "image": self.transform(_open_rgb(row.path)),
            "caption": row.caption,
            "object": self.object_to_idx[row.obj_id],
            "index": index,
        }


_TURNTABLE_NAME = re.compile(r"^(?P<obj>.+?)__(?P<pose>\d+)\.(png|jpg|jpeg)$", re.IGNORECASE)


def load_turntable_records(root: str | Path) -> list[ViewRecord]:
    """Rows for a turntable folder named ``<object>__<pose>.png`` (COIL-20/100 style).

    Azimuths come from ``labels.csv`` (columns file, azimuth_deg) when present, else pose * 360 / poses.
    Elevation is unknown (None); every object is its own category; domain "real", split "test".
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"turntable folder {root} does not exist")
    names = sorted(p.name for p in root.iterdir() if p.is_file())
    files = [n for n in names if _TURNTABLE_NAME.match(n)]
    if not files:
        raise DatasetError(f"turntable folder {root} has no images named <object>__<pose>.png")
    odd = [n for n in names if n not in files and n.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".tif"))]
    if odd:
        warnings.warn(
            f"{root}: skipping {len(odd)} image file(s) not named <object>__<pose>.<ext>: {', '.join(odd[:3])}",
            stacklevel=2,
        )
    azimuth: dict[str, float] = {}
    labels = root / "labels.csv"
    if labels.is_file():
        with open(labels, newline="") as f:
            for lineno, row in enumerate(csv.DictReader(f), 2):
                try:
                    azimuth[row["file"]] = float(row["azimuth_deg"])
                except (KeyError, TypeError, ValueError) as e:
                    raise DatasetError(f"{labels} line {lineno}: needs columns file, azimuth_deg ({e})") from e
    poses: dict[str, int] = {}
    for name in files:
        m = _TURNTABLE_NAME.match(name)
        poses[m["obj"]] = max(poses.get(m["obj"], 0), int(m["pose"]) + 1)
    records = []
    for name in files:
        m = _TURNTABLE_NAME.match(name)
        obj, pose = m["obj"], int(m["pose"])
        az = azimuth.get(name, pose * 360.0 / poses[obj])
        records.append(
            ViewRecord(
                file_name=name,
                object_id=obj,
                category=obj,
                domain="real",
                split="test",
                view_set="turntable",
                view_id=pose,
                azimuth_deg=az,
            )
        )
    return sorted(records, key=lambda r: (_natural(r.object_id), r.view_id))


def load_real_records(root: str | Path) -> list[ViewRecord]:
    """Rows of a real image set: a contract folder (``vantage data import`` output, or any build) or a
    turntable folder of ``<object>__<pose>.png`` files (COIL-20 with its ``labels.csv``)."""
    root = Path(root)
    if (root / METADATA_FILE).is_file():
        return load_records(root)
    return load_turntable_records(root)


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


class TurntableDataset(_RecordDataset):
    """A real turntable image set (e.g. ../shared/data/coil20) in the shared row schema; items as in
    :class:`MultiViewDataset` (``label`` = object index, ``elevation`` = NaN)."""

    def __init__(
        self, root: str | Path, transform: Transform | None = None, objects: Iterable[str] | None = None
    ) -> None:
        records = load_turntable_records(root)
        if objects is not None:
            keep = set(objects)
            records = [r for r in records if r.object_id in keep]
        classes = sorted({r.category for r in records}, key=_natural)
        super().__init__(root, records, classes, transform)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        return {"image": self.image(rec), "index": index, **self.view_fields(rec)}


def hf_data_files(root: str | Path) -> dict[str, list[str]]:
    """``data_files`` for ``datasets.load_dataset("imagefolder", data_files=...)`` over a built folder.

    Pass these explicitly: HF's split inference from folder names would otherwise mistake objects of the
    category ``train`` (folders ``train-000`` ...) for a split.
    """
    root = Path(root).resolve()
    return {"train": [str(root / "metadata.jsonl"), str(root / "images" / "**" / "*.png")]}
