"""Check a built dataset folder: card, rows, checksums, and that every file exists and decodes."""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vantage.data.schema import (
    CARD_FILE,
    CHECKSUM_FILE,
    METADATA_FILE,
    DatasetError,
    ViewRecord,
    check_relative_path,
    inside,
)
from vantage.io import sha256_bytes

__all__ = ["Problem", "summarize", "verify_dataset"]


@dataclass
class Problem:
    """One thing wrong with a dataset, tied to the file it concerns."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _check_file(root: Path, rel: str, want_sha: str | None, size: int | None) -> list[Problem]:
    try:
        path = inside(root, rel)
    except DatasetError as e:
        return [Problem(rel, str(e))]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [Problem(rel, "missing")]
    problems = []
    if want_sha is not None and sha256_bytes(data) != want_sha:
        problems.append(Problem(rel, "checksum mismatch (file changed or corrupt)"))
    try:
        if rel.endswith(".png"):
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if size is not None and im.size != (size, size):
                    problems.append(Problem(rel, f"image is {im.size[0]}x{im.size[1]}, card says {size}x{size}"))
        elif rel.endswith(".npy"):
            arr = np.load(io.BytesIO(data), allow_pickle=False)
            if size is not None and arr.shape != (size, size):
                problems.append(Problem(rel, f"depth map has shape {arr.shape}, card says ({size}, {size})"))
    except Exception as e:
        kind = "PNG image" if rel.endswith(".png") else "NumPy array"
        problems.append(Problem(rel, f"corrupt: not a readable {kind} ({type(e).__name__})"))
    return problems


def verify_dataset(root: str | Path, workers: int | None = None) -> list[Problem]:
    """Every problem found in the dataset at ``root`` (empty list: the dataset is sound)."""
    root = Path(root)
    if not root.is_dir():
        return [Problem(str(root), "not a directory")]
    problems: list[Problem] = []
    try:
        card = json.loads((root / CARD_FILE).read_text())
    except FileNotFoundError:
        return [Problem(CARD_FILE, "missing: the build did not finish (re-run `vantage data build` to resume)")]
    except json.JSONDecodeError as e:
        return [Problem(CARD_FILE, f"not valid JSON ({e.msg})")]
    size = card.get("image_size")
    checksums: dict[str, str] = {}
    try:
        text = (root / CHECKSUM_FILE).read_text()
        for lineno, line in enumerate(text.splitlines(), 1):
            sha, _, rel = line.partition("  ")
            if len(sha) != 64 or not rel:
                problems.append(Problem(CHECKSUM_FILE, f"line {lineno} is not '<sha256>  <path>'"))
                continue
            try:
                check_relative_path(rel, f"{CHECKSUM_FILE} line {lineno}: path")
            except DatasetError as e:
                problems.append(Problem(CHECKSUM_FILE, str(e)))
                continue
            checksums[rel] = sha
        if sha256_bytes(text.encode()) != card.get("manifest_hash"):
            problems.append(Problem(CHECKSUM_FILE, "its hash differs from the card's manifest_hash"))
        meta, want = root / METADATA_FILE, card.get("metadata_sha256")
        if want and meta.is_file() and sha256_bytes(meta.read_bytes()) != want:
            problems.append(Problem(METADATA_FILE, "its hash differs from the card's metadata_sha256 (edited or "
                                    "emptied; `vantage data build` with the same config rewrites it)"))  # fmt: skip
    except FileNotFoundError:
        problems.append(Problem(CHECKSUM_FILE, "missing"))
    referenced: set[str] = set()
    n_rows = 0
    try:
        for lineno, line in _lines(root / METADATA_FILE, problems):
            where = f"{METADATA_FILE} line {lineno}"
            try:
                rec = ViewRecord.from_json(json.loads(line), where)
            except json.JSONDecodeError as e:
                problems.append(Problem(METADATA_FILE, f"{where}: not valid JSON ({e.msg})"))
                continue
            except DatasetError as e:
                problems.append(Problem(METADATA_FILE, str(e)))
                continue
            n_rows += 1
            for rel in (rec.file_name, rec.depth_file, rec.mask_file):
                if rel is not None:
                    referenced.add(rel)
                    if checksums and rel not in checksums:
                        problems.append(Problem(rel, f"listed in {where} but not in {CHECKSUM_FILE}"))
    except FileNotFoundError:
        problems.append(Problem(METADATA_FILE, "missing"))
    expected = card.get("counts", {}).get("images")
    if expected is not None and n_rows != expected:
        problems.append(Problem(METADATA_FILE, f"{n_rows} rows, card says {expected} images"))
    to_check = sorted(set(checksums) | referenced)
    with ThreadPoolExecutor(workers or min(8, (os.cpu_count() or 1) * 2)) as ex:
        for found in ex.map(lambda rel: _check_file(root, rel, checksums.get(rel), size), to_check, chunksize=256):
            problems.extend(found)
    listed = set(to_check)
    for sub in ("images", "depth", "mask"):
        for dirpath, _, files in os.walk(root / sub):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if not name.startswith(".") and rel not in listed:
                    problems.append(Problem(rel, "on disk but not listed in the dataset"))
    return problems


def summarize(root: str | Path) -> dict:
    """Counts from the card and rows: images by split, domain, view set and category; objects by split."""
    from vantage.data.schema import load_card, load_records

    card = load_card(root)
    rows = load_records(root)
    objects: dict[str, set[str]] = {}
    for r in rows:
        objects.setdefault(r.split if r.domain == "in" else r.domain, set()).add(r.object_id)
    return {
        "name": card.get("name"),
        "root": str(Path(root).resolve()),
        "image_size": card.get("image_size") or _size_range(Path(root), rows),
        "manifest_hash": card.get("manifest_hash"),
        "generator": {k: v for k, v in card.get("generator", {}).items() if k != "config"},
        "categories": card.get("categories"),
        "images": len(rows),
        "objects": {k: len(v) for k, v in sorted(objects.items())},
        "by_split": dict(sorted(Counter(r.split for r in rows).items())),
        "by_domain": dict(sorted(Counter(r.domain for r in rows).items())),
        "by_view_set": dict(sorted(Counter(r.view_set for r in rows).items())),
        "by_category": dict(sorted(Counter(r.category for r in rows).items())),
        "with_depth": sum(r.depth_file is not None for r in rows),
        "with_mask": sum(r.mask_file is not None for r in rows),
    }


def _size_range(root: Path, rows: list) -> str | None:
    """``"WxH"`` when every image of a dataset whose card gives no single size has the same size, else
    ``"mixed sizes (WxH..WxH)"`` (smallest and largest by area); image headers only, no decoding."""
    sizes = set()
    for r in rows:
        try:
            with Image.open(inside(root, r.file_name)) as im:
                sizes.add(im.size)
        except (OSError, DatasetError):
            continue
    if not sizes:
        return None
    lo, hi = min(sizes, key=lambda s: (s[0] * s[1], s)), max(sizes, key=lambda s: (s[0] * s[1], s))
    return f"{lo[0]}x{lo[1]}" if len(sizes) == 1 else f"mixed sizes ({lo[0]}x{lo[1]}..{hi[0]}x{hi[1]})"


def summary_text(s: dict) -> str:
    """``summarize``'s counts as the lines `vantage data info` prints."""
    size = s["image_size"]
    size = f"{size} px" if isinstance(size, int) else size or "unknown size"
    lines = [f"{s['name']} at {s['root']}", f"  {s['images']} images of {size}; manifest "
             f"{s['manifest_hash']}"]  # fmt: skip
    lines += [f"  {key}: " + ", ".join(f"{k}={v}" for k, v in s[key].items())
              for key in ("objects", "by_split", "by_domain", "by_view_set")]  # fmt: skip
    lines += [f"  categories in: {', '.join(s['categories']['in'])}",
              f"  categories out: {', '.join(s['categories']['out'])}",
              f"  with depth: {s['with_depth']}, with mask: {s['with_mask']}"]  # fmt: skip
    return "\n".join(lines)


def _lines(path: Path, problems: list[Problem]) -> Iterator[tuple[int, str]]:
    """The non-empty lines of ``path`` with their numbers; a line that is not UTF-8 becomes a problem (the rest
    are still checked). A missing file raises FileNotFoundError."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                problems.append(Problem(path.name, f"{path.name} line {lineno}: not UTF-8 text (byte {e.start + 1})"))
                continue
            if line.strip():
                yield lineno, line
