"""timm backbones with named feature taps (pooled feature and intermediate maps) and tap compression."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vantage.models.hub import weights_guard

__all__ = [
    "STEMS",
    "FeatureExtractor",
    "check_timm_name",
    "compress_tap",
    "create_backbone",
    "create_timm_model",
    "load_backbone_weights",
    "random_projection",
]

STEMS = ("timm", "cifar", "cifar_pool")


def check_timm_name(name: str) -> str:
    """``name`` if timm knows the architecture, else a ValueError with the closest names."""
    import difflib

    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        raise ValueError(f"unknown timm model {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    return name


def create_timm_model(name: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """``timm.create_model``; with ``pretrained`` through :func:`vantage.models.hub.pretrained_call`, so an
    offline request for weights not in the local cache fails at once in one line."""
    import timm

    if not pretrained:
        return timm.create_model(name, **kwargs)
    from vantage.models.hub import pretrained_call

    hint = "pass local weights with --checkpoint PATH (a timm/torch state dict), or run once with network access"
    return pretrained_call(f"timm {name}", hint, lambda: timm.create_model(name, pretrained=True, **kwargs))


def create_backbone(
    name: str = "resnet18",
    pretrained: bool = False,
    checkpoint: str | Path | None = None,
    stem: str = "timm",
    **kwargs,
) -> nn.Module:
    """A timm model without its classifier (``num_classes=0``), so ``model(x)`` is the pooled feature.

    ``pretrained=True`` loads timm's weights for ``name`` (needs the hub); ``checkpoint`` loads a local file
    instead: a timm/torch state dict of this architecture (keys of a ``FeatureExtractor`` or a Lightning
    checkpoint are accepted too). ``stem`` for ResNets: ``timm`` (the model's own), ``cifar`` (3x3 stride-1
    conv1, no max-pool: the pose-aware SSL benchmark's stem at 32 px) or ``cifar_pool`` (the same conv1, max-pool
    kept: a quarter of the compute, for CPU runs). Other kwargs go to timm (``channels=(16, 32, 64, 128)`` makes
    a narrow ResNet; ViTs take ``img_size``/``patch_size``).
    """

    check_timm_name(name)
    try:
        model = create_timm_model(name, pretrained, num_classes=0, **kwargs)
    except TypeError as e:  # a keyword the architecture does not take
        raise ValueError(f"timm model {name!r} does not accept {sorted(kwargs)}: {e}") from e
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    if stem != "timm":
        if not (hasattr(model, "conv1") and hasattr(model, "maxpool") and isinstance(model.conv1, nn.Conv2d)):
            raise ValueError(f"stem={stem!r} applies to ResNet-style models with conv1 and maxpool, not {name!r}")
        model.conv1 = nn.Conv2d(model.conv1.in_channels, model.conv1.out_channels, 3, 1, 1, bias=False)
        if stem == "cifar":
            model.maxpool = nn.Identity()
    if checkpoint is not None:
        load_backbone_weights(model, checkpoint)
    return model


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Load a local state dict into ``model`` (strict), stripping Lightning/extractor prefixes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    with weights_guard(f"checkpoint {path}"):
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    for prefix in ("backbone.model.", "model.", "backbone."):
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            break
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not fit this backbone: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


class FeatureExtractor(nn.Module):
    """One way to get the pooled feature and named intermediate features from any timm model.

    Tap names: ``pooled`` (the model's pooled, pre-logits feature); ``conv1``..``conv4`` for ResNets
    (outputs of layer1..layer4, the pose-aware SSL paper's naming: conv3 = layer3); ``stage<i>`` for any
    CNN with timm ``feature_info`` (0-based); ``block<k>`` for transformers (output of the k-th block,
    1-based). Intermediate taps are (B, C, H, W) maps (transformer patch tokens reshaped to the grid).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        if not hasattr(model, "forward_intermediates"):
            raise ValueError(f"{type(model).__name__} has no forward_intermediates; use a timm >= 1.0 model")
        self._stages = [f["module"] for f in getattr(model, "feature_info", [])] if not hasattr(model, "blocks") else []
        self.num_features = int(getattr(model, "num_features", 0))

    @property
    def tap_names(self) -> list[str]:
        """All tap names this model offers."""
        names = ["pooled"]
        if hasattr(self.model, "blocks"):
            return names + [f"block{k + 1}" for k in range(len(self.model.blocks))]
        names += [f"stage{i}" for i in range(len(self._stages))]
        names += [f"conv{m[-1]}" for m in self._stages if re.fullmatch(r"layer[1-4]", m)]
        return names

    def _index(self, name: str) -> int:
        if hasattr(self.model, "blocks"):
            m = re.fullmatch(r"block(\d+)", name)
            if m and 1 <= int(m[1]) <= len(self.model.blocks):
                return int(m[1]) - 1
        else:
            m = re.fullmatch(r"stage(\d+)", name)
            if m and int(m[1]) < len(self._stages):
                return int(m[1])
            if re.fullmatch(r"conv[1-4]", name) and f"layer{name[-1]}" in self._stages:
                return self._stages.index(f"layer{name[-1]}")
        raise ValueError(f"unknown feature tap {name!r} for {type(self.model).__name__}; taps: {self.tap_names}")

    def check_taps(self, names: Sequence[str]) -> None:
        """Raise ValueError naming the first tap this model does not offer."""
        for n in names:
            if n != "pooled":
                self._index(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled feature (B, num_features)."""
        return self.model(x)

    def taps(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """The requested taps from one forward pass (the pooled one only if asked)."""
        names = list(dict.fromkeys(names))
        wanted = {n: self._index(n) for n in names if n != "pooled"}
        out: dict[str, torch.Tensor] = {}
        if not wanted:
            return {"pooled": self.model(x)}
        indices = sorted(set(wanted.values()))
        if "pooled" in names:
            final, inter = self.model.forward_intermediates(x, indices=indices)
            out["pooled"] = self.model.forward_head(final)
        else:
            inter = self.model.forward_intermediates(x, indices=indices, intermediates_only=True, stop_early=True)
        by_index = dict(zip(indices, inter, strict=True))
        for n, i in wanted.items():
            out[n] = by_index[i]
        return {n: out[n] for n in names}


def compress_tap(t: torch.Tensor, method: str = "flatten", dim: int | None = None, seed: int = 0) -> torch.Tensor:
    """A (B, D) vector from a tap: pooled features pass through; (B, C, H, W) maps are compressed.

    * ``flatten``: each channel's spatial map L2-normalised, then flattened (C*H*W; the reference code's
      kNN feature). Keeps where things are, which is what pose needs.
    * ``avg``: global average pooling (C); discards layout.
    * ``project``: ``flatten``, then a fixed random Gaussian projection to ``dim`` (default: C). Random
      projections preserve pairwise distances (Johnson-Lindenstrauss), so kNN and linear probes lose little,
      and unlike PCA nothing is fitted: every model and split is compressed identically.
    """
    if t.dim() == 2:
        return t
    if t.dim() != 4:
        raise ValueError(f"compress_tap takes (B, D) or (B, C, H, W) tensors, got shape {tuple(t.shape)}")
    if method == "avg":
        return t.mean((2, 3))
    flat = F.normalize(t.flatten(2), dim=2).flatten(1)
    if method == "flatten":
        return flat
    if method == "project":
        return random_projection(flat, dim or t.shape[1], seed)
    raise ValueError(f"compression method must be flatten, avg or project, got {method!r}")


def random_projection(x: torch.Tensor, dim: int, seed: int = 0) -> torch.Tensor:
    """``x`` (B, D) times a fixed Gaussian matrix (D, dim) / sqrt(dim), drawn from ``seed``: the same matrix
    for every call with the same D, so all splits and models are projected alike."""
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(x.shape[1], dim, generator=g, dtype=torch.float32) / dim**0.5
    return x @ proj.to(device=x.device, dtype=x.dtype)
