"""What the render workers of every builder share: dying with their parent, and how depth maps are stored."""

from __future__ import annotations

import contextlib
import io
import sys

import numpy as np

__all__ = ["die_with_parent", "npy_bytes"]


def die_with_parent() -> None:
    """Linux: ask the kernel to end this render worker when its parent dies (even by SIGKILL)."""
    import ctypes
    import signal

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def npy_bytes(array: np.ndarray) -> bytes:
    """A depth map as the bytes of a float16 ``.npy`` file (how every build stores depth)."""
    buf = io.BytesIO()
    np.save(buf, array.astype(np.float16))
    return buf.getvalue()
