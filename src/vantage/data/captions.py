"""Multi-view caption data in MVCap's format: a ``metadata.json`` list of ``{path, caption, obj_id, img_id}``
rows (paths relative to the file's folder). Written from a built multi-view dataset with category-guided
captions (or a user's captioning function), and read back from any MVCap-format folder."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vantage.data.schema import DatasetError, ViewRecord, load_records
from vantage.io import atomic_write_text

__all__ = ["MVCAP_FIELDS", "Captioner", "MVCapRow", "load_captioner", "read_mvcap", "write_mvcap"]

MVCAP_FIELDS = ("path", "caption", "obj_id", "img_id")
Captioner = Callable[[Path, ViewRecord], str]  # (image file, its row) -> caption


@dataclass(frozen=True)
class MVCapRow:
    """One image-text pair: ``path`` (absolute after reading), ``caption``, ``obj_id``, ``img_id``, and the
    category when the writer knew it."""

    path: Path
    caption: str
    obj_id: str
    img_id: str
    category: str | None = None


def load_captioner(spec: str) -> Captioner:
    """A captioning function from ``"package.module:function"`` (called with the image path and its row)."""
    module, sep, func = spec.partition(":")
    if not sep or not module or not func:
        raise ValueError(f"captioner {spec!r}: expected 'package.module:function'")
    try:
        fn = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"captioner {spec!r} cannot be imported: {e}") from e
    if not callable(fn):
        raise ValueError(f"captioner {spec!r} is not callable")
    return fn


def write_mvcap(
    root: str | Path,
    out: str | Path | None = None,
    split: str | Iterable[str] | None = "train",
    view_set: str | Iterable[str] | None = None,
    domain: str | Iterable[str] | None = "in",
    view_words: bool = False,
    captioner: Captioner | None = None,
) -> Path:
    """Write ``metadata.json`` (default ``<root>/mvcap/<view sets>-<split>.json``) for the chosen rows of a
    built dataset. Captions are the rows' category-guided templates (``view_words``: the variant that names
    the view), or ``captioner(image_path, row)``. Returns the file written (atomically)."""
    from vantage.data.read import filter_records

    root = Path(root).resolve()
    rows = filter_records(load_records(root), split=split, view_set=view_set, domain=domain)
    if not rows:
        raise DatasetError(f"no rows in {root} match split={split!r}, view_set={view_set!r}, domain={domain!r}")
    if out is None:
        tag = "-".join(sorted({r.view_set for r in rows})) + (f"-{split}" if isinstance(split, str) else "")
        out = root / "mvcap" / f"{tag}.json"
    out = Path(out).resolve()
    entries = []
    for r in rows:
        image = root / r.file_name
        if captioner is not None:
            caption = captioner(image, r)
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(f"captioner returned {caption!r} for {image}; expected a non-empty string")
        else:
            caption = r.view_caption if view_words else r.caption
            if caption is None:
                raise DatasetError(f"{root}: row {r.file_name} has no caption; pass a captioner")
        entries.append({
            "path": _relative(image, out.parent),
            "caption": caption,
            "obj_id": r.object_id,
            "img_id": f"{r.object_id}/{r.view_set}-{r.view_id:03d}",
            "category": r.category,
        })  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(entries, indent=1))
    return out


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)


def read_mvcap(path: str | Path) -> list[MVCapRow]:
    """Rows of an MVCap ``metadata.json`` (a file, or a folder holding one); errors name the file, row and
    field. Image paths resolve against the file's folder (absolute paths are kept)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metadata.json"
    if not path.is_file():
        raise DatasetError(f"MVCap metadata {path} does not exist")
    try:
        data: Any = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")
    rows = []
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DatasetError(f"{path}: row {i} is not an object")
        missing = [f for f in MVCAP_FIELDS if f not in row]
        if missing:
            raise DatasetError(f"{path}: row {i} lacks field(s) {missing}")
        if not isinstance(row["caption"], str) or not row["caption"].strip():
            raise DatasetError(f"{path}: row {i} field 'caption' is empty or not a string")
        image = Path(row["path"])
        rows.append(MVCapRow(
            path=image if image.is_absolute() else path.parent / image,
            caption=row["caption"],
            obj_id=str(row["obj_id"]),
            img_id=str(row["img_id"]),
            category=row.get("category"),
        ))  # fmt: skip
    if not rows:
        raise DatasetError(f"{path} has no rows")
    return rows
