"""Atomic file writes (temp file in the same folder, fsync, rename) and small hashing helpers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vantage.errors import VantageError

__all__ = [
    "BusyError",
    "OutsideFolderError",
    "WriteError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "encode_png",
    "finite_json",
    "folder_lock",
    "inside",
    "is_locked",
    "pid_alive",
    "publish",
    "remove_stale_temps",
    "sha256_bytes",
    "sha256_file",
    "temp_folder",
    "temp_path",
    "vantage_home",
    "write_error_log",
]

TEMP_MARK = ".tmp-"
LOCK_FILE = ".vantage.lock"


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the process umask (mkstemp's is 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class WriteError(VantageError, OSError):
    """A file could not be written (disk full, no permission, ...); the message names the path."""


class OutsideFolderError(VantageError, ValueError):
    """A path that a file names (a row, a result, a preset) leads outside the folder it belongs to."""


class BusyError(VantageError, RuntimeError):
    """Another vantage process holds the lock of a folder this one wants to write or replace."""


def inside(root: str | Path, rel: str | Path, what: str = "folder") -> Path:
    """``root / rel`` for a path some file named, checked at the point of reading: relative, no ``..``, no NUL,
    and, resolved through every symbolic link, still inside ``root``; else one OutsideFolderError naming both.
    Every reader of a path taken from a file (metadata rows, results.json figures, tables) goes through here."""
    text = str(rel)
    if "\x00" in text:
        raise OutsideFolderError(f"{root}: the path {text!r} holds a NUL character")
    if Path(text).is_absolute() or ".." in Path(text).parts:
        raise OutsideFolderError(f"{text!r} must be a relative path inside the {what} {root}")
    base = Path(root).resolve()
    path = (base / text).resolve()
    if path != base and base not in path.parents:
        raise OutsideFolderError(f"{Path(root) / text} resolves outside the {what} {root}")
    return path


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "run") -> Iterator[None]:
    """Hold ``<folder>/.vantage.lock`` while writing ``folder``; a second holder gets one BusyError line at once
    (no waiting). The lock file is removed again on release."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BusyError(f"another {what} is writing {folder} (it holds {folder / LOCK_FILE}); wait for it or "
                        "use another --out") from None  # fmt: skip
    try:
        yield
    finally:
        lock.release()
        Path(folder / LOCK_FILE).unlink(missing_ok=True)


def is_locked(folder: str | Path) -> bool:
    """Whether a vantage process holds ``folder``'s lock right now."""
    from filelock import FileLock, Timeout

    path = Path(folder) / LOCK_FILE
    if not path.exists():
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None, so the JSON written is valid (strict readers
    refuse a bare ``NaN``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def temp_path(path: str | Path) -> Path:
    """A fresh temp name beside ``path`` that :func:`remove_stale_temps` recognises (``.<name>.tmp-<pid>-<n>``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", dir=path.parent)
    os.fchmod(fd, _file_mode())
    os.close(fd)
    return Path(tmp)


def publish(tmp: str | Path, path: str | Path) -> None:
    """fsync the finished temp file ``tmp``, then rename it to ``path`` (atomic on one file system)."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one: a temp file
    beside it, fsynced, then renamed. On failure the temp file is removed and :class:`WriteError` names ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent)
        os.fchmod(fd, _file_mode())
    except OSError as e:
        raise WriteError(e.errno, f"could not write {path}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise WriteError(e.errno, f"could not write {path}: {e.strerror} (temp file removed)") from e
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomic UTF-8 text write."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """Atomic JSON write (sorted keys, trailing newline); ``indent=None`` writes compactly (faster)."""
    atomic_write_text(path, json.dumps(finite_json(obj), indent=indent, sort_keys=True, allow_nan=False) + "\n")


def remove_stale_temps(root: str | Path) -> int:
    """Delete temp files a killed writer left under ``root`` (also Lightning-style ``<name>.tmp-<pid>``
    checkpoint temps); returns how many."""
    n = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            if TEMP_MARK in f and (f.startswith(".") or f.split(TEMP_MARK)[-1].isdigit()):
                Path(dirpath, f).unlink(missing_ok=True)
                n += 1
    return n


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_folder(out: str | Path, kind: str, who: str) -> Path:
    """A fresh temp folder name beside ``out`` for a folder written whole and renamed into place
    (``.<name>.<kind>-<pid>``), after removing those of earlier ``kind`` writers of ``out`` whose process is
    gone (killed by SIGKILL), with one line each on stderr naming ``who`` left it ("an import")."""
    import shutil
    import sys

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.{kind}-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
            print(f"[vantage] removed {stale}, left by {who} that was killed", file=sys.stderr)
    tmp = out.with_name(f".{out.name}.{kind}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


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


def write_error_log(heading: str) -> Path | None:
    """Write ``heading`` and the current exception's traceback to ``$VANTAGE_HOME/logs/`` and return the file
    (None if that fails)."""
    import datetime as dt
    import traceback

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = vantage_home() / "logs" / f"error-{stamp}-{os.getpid()}.log"
    try:
        atomic_write_text(path, f"{heading}\n\n{traceback.format_exc()}")
    except OSError:
        return None
    return path


def vantage_home() -> Path:
    """Cache root: ``$VANTAGE_HOME`` or ``~/.cache/vantage``."""
    return Path(os.environ.get("VANTAGE_HOME", Path.home() / ".cache" / "vantage")).expanduser()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of an 8-bit (H, W) grey or (H, W, 3) RGB array: one zlib stream, no row filters.

    Deterministic, and several times faster than PIL's encoder on small images (renders are mostly flat
    colour, which plain zlib compresses well); a default dataset build writes 64k of them.
    """
    a = np.ascontiguousarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"encode_png takes uint8 (H, W) or (H, W, 3) arrays, got {a.dtype} {a.shape}")
    h, w = a.shape[:2]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, -1)], axis=1)  # filter byte 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if a.ndim == 3 else 0, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), level)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
