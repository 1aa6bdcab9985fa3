"""Pretrained weights from a model hub, failing at once and in one line when they cannot be had.

Offline, the hub clients retry for about a minute and then raise deep inside timm / open_clip / transformers.
``pretrained_call`` checks once (a 1.5 s TCP connect) whether the hub is reachable; if not, it switches the
Hugging Face client to offline mode, so weights already in the local cache still load and missing ones fail
immediately, and it turns any failure into :class:`PretrainedUnavailable` naming the model and how to give
local weights instead.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import socket
from collections.abc import Callable, Iterator
from typing import TypeVar

from vantage.errors import VantageError

__all__ = ["ForeignWeightsError", "PretrainedUnavailable", "hub_reachable", "pretrained_call", "weights_guard"]

T = TypeVar("T")
HUB_HOST = "huggingface.co"


class PretrainedUnavailable(VantageError, RuntimeError):
    """Pretrained weights were asked for and cannot be downloaded (no network) or found in the local cache."""


class ForeignWeightsError(VantageError, ValueError):
    """A weights file that holds Python objects besides tensors: refused unread (nothing in it ran)."""


_UNSAFE = ("Weights only load failed", "UnpicklingError", "Unsupported global", "Unsupported operand")


@contextlib.contextmanager
def weights_guard(what: str) -> Iterator[None]:
    """Turn torch's refusal of an unsafe pickle (``weights_only=True``), however a library wraps it, into one
    line naming ``what``: it is not a vantage / open_clip / Hugging Face checkpoint."""
    try:
        yield
    except ForeignWeightsError:
        raise
    except Exception as e:
        chain, seen = [], e
        while seen is not None and len(chain) < 8:
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        if any(isinstance(c, pickle.UnpicklingError) or any(m in str(c) for m in _UNSAFE) for c in chain):
            raise ForeignWeightsError(
                f"{what} is not a vantage / open_clip / Hugging Face checkpoint: it holds Python objects besides "
                "weights, and vantage loads weights only (nothing in it ran)"
            ) from None
        raise


@functools.lru_cache(maxsize=1)
def hub_reachable(host: str = HUB_HOST, timeout: float = 1.5) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds (checked once per process);
    ``HF_HUB_OFFLINE=1`` means no without trying."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _go_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True  # read at import time by the client
    except ImportError:
        pass


def pretrained_call(what: str, hint: str, load: Callable[[], T]) -> T:
    """Run ``load`` (a call that downloads or reads cached weights for ``what``); if the hub is unreachable the
    client is put in offline mode first, and a failure raises one :class:`PretrainedUnavailable` line ending
    with ``hint`` (how to give local weights)."""
    online = hub_reachable()
    if not online:
        _go_offline()
        logging.disable(logging.ERROR)  # open_clip logs its own failed download before raising
    try:
        with weights_guard(what):
            return load()
    except ForeignWeightsError:
        raise
    except (OSError, RuntimeError, ValueError) as e:
        if online and not _looks_like_download_error(e):
            raise
        why = "no network to download them and they are not in the local cache" if not online else str(e)
        raise PretrainedUnavailable(f"pretrained weights for {what} are unavailable ({why}); {hint}") from None
    finally:
        if not online:
            logging.disable(logging.NOTSET)


def _looks_like_download_error(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return any(k in text for k in ("connection", "offline", "hub", "download", "resolve", "timed out", "http"))
