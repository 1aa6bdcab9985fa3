"""Atomic file writes (temp file in the same folder + rename) and small hashing helpers."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "remove_stale_temps",
    "sha256_bytes",
    "sha256_file",
    "vantage_home",
]

TEMP_MARK = ".tmp-"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomic UTF-8 text write."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """Atomic JSON write (sorted keys, trailing newline); ``indent=None`` writes compactly (faster)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True) + "\n")


def remove_stale_temps(root: str | Path) -> int:
    """Delete temp files a killed writer left under ``root``; returns how many."""
    n = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.startswith(".") and TEMP_MARK in f:
                Path(dirpath, f).unlink(missing_ok=True)
                n += 1
    return n


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def vantage_home() -> Path:
    """Cache root: ``$VANTAGE_HOME`` or ``~/.cache/vantage``."""
    return Path(os.environ.get("VANTAGE_HOME", Path.home() / ".cache" / "vantage")).expanduser()
