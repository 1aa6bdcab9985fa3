"""Where models run: ``--device`` names (auto, cpu, cuda, cuda:N, mps) resolved to a torch device, checked for
availability, and mapped to Lightning's accelerator and devices for training."""

from __future__ import annotations

import itertools
from typing import Any

import torch

from vantage.config import ConfigError

__all__ = ["DEVICE_HELP", "lightning_devices", "module_device", "resolve_device"]

DEVICE_HELP = "auto (CUDA if available, else CPU) | cpu | cuda | cuda:N | mps"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``spec``; a device this machine does not have fails with one line naming it."""
    spec = "auto" if spec is None else str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"--device {spec!r} is not a device; use {DEVICE_HELP}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {spec}: no CUDA device is available on this machine (use --device cpu)")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {spec}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"--device {spec}: Apple MPS is not available on this machine (use --device cpu)")
    elif device.type != "cpu":
        raise ConfigError(f"--device {spec!r}: unsupported device type; use {DEVICE_HELP}")
    return device


def lightning_devices(spec: str | None) -> dict[str, Any]:
    """Train-config fields (``accelerator``, and ``devices`` for ``cuda:N``) that put training on ``spec``;
    empty for ``auto`` (Lightning picks)."""
    if spec is None or str(spec).strip().lower() == "auto":
        return {}
    device = resolve_device(spec)
    if device.type == "cuda":
        return {"accelerator": "gpu", **({"devices": [device.index]} if device.index is not None else {})}
    return {"accelerator": device.type}


def module_device(module: Any) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for one without, or for a plain function)."""
    if isinstance(module, torch.nn.Module):
        for tensor in itertools.chain(module.parameters(), module.buffers()):
            return tensor.device
    return torch.device("cpu")
