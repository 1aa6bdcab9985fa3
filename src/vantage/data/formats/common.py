"""What the format readers and writers share: JSON and image-header reading with one-line errors, the
object folders of a source, and the object handed to a writer."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vantage.data.formats.frame import PosedFrame
from vantage.data.schema import DatasetError, check_relative_path, inside

__all__ = ["CATEGORY_FILE", "ExportObject", "copy_file", "image_size", "object_folders", "read_category",
           "read_json", "resolve"]  # fmt: skip

CATEGORY_FILE = "category.txt"  # optional, in an object folder: the object's category (default: its id)


@dataclass
class ExportObject:
    """One object to write: its id, category and frames (``file`` is the absolute path of the image to copy)."""

    object_id: str
    category: str
    frames: list[PosedFrame]


def read_json(path: Path, what: str) -> Any:
    """The parsed JSON of ``path``; one DatasetError naming it when it is missing, not UTF-8 or not JSON."""
    if not path.is_file():
        raise DatasetError(f"{path} does not exist ({what})")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None


def resolve(root: Path, rel: Any, where: str) -> Path:
    """``root / rel`` for a path a capture file names: relative, no ``..``, and resolving inside ``root``."""
    rel = check_relative_path(rel, f"{where}: file")
    return inside(root, rel)


def image_size(path: Path, where: str) -> tuple[int, int]:
    """(width, height) from the image header; one DatasetError when it is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DatasetError(f"{where}: image {path} does not exist")
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        raise DatasetError(f"{where}: {path} is not a readable image ({type(e).__name__})") from None


def object_folders(source: Path, marker: Any) -> list[Path]:
    """``[source]`` when ``marker(source)`` holds (one object), else every sub-folder where it holds (one object
    each, sorted by name); a DatasetError when there is none."""
    if marker(source):
        return [source]
    found = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".") and marker(p))
    if not found:
        raise DatasetError(f"{source}: no capture found here or in its sub-folders")
    return found


def read_category(folder: Path) -> str:
    """The category named by ``folder/category.txt``, else the folder's name."""
    path = folder / CATEGORY_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8-sig").strip()
        if text:
            return text.splitlines()[0].strip()
    return folder.name


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` (parents made); the export folder is published whole, so no temp file here."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
