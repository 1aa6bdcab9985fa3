"""Any image encoder as a frozen feature extractor with one ``pooled`` tap, beside timm's
:class:`~vantage.models.FeatureExtractor`: open_clip image towers (and tuned OVT folders) and Hugging Face vision
models. Inputs are images in [0, 1]; each wrapper resizes to its model's input size and applies its own
normalisation, so the evaluators feed every encoder the same images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vantage.models.hub import pretrained_call

__all__ = ["PooledEncoder", "clip_image_encoder", "hf_image_encoder"]


class PooledEncoder(nn.Module):
    """``encode(net, images)`` -> (B, D) behind resizing to ``size`` and (x - mean) / std; taps: ``pooled``."""

    def __init__(self, net: nn.Module, encode: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                 mean: Sequence[float], std: Sequence[float], size: int | None, dim: int) -> None:  # fmt: skip
        super().__init__()
        self.net, self._encode, self.size, self.num_features = net, encode, size, dim
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    @property
    def tap_names(self) -> list[str]:
        """Only the pooled embedding."""
        return ["pooled"]

    def check_taps(self, names: Sequence[str]) -> None:
        """Raise ValueError for any tap but ``pooled``."""
        bad = [n for n in names if n != "pooled"]
        if bad:
            raise ValueError(f"unknown feature tap {bad[0]!r} for this encoder; taps: ['pooled']")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] -> (B, D)."""
        if self.size is not None and x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return self._encode(self.net, (x - self.mean) / self.std).float()

    def taps(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{"pooled": features}`` (the only tap)."""
        self.check_taps(names)
        return {"pooled": self(x)}


def _clip_encode(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.encode_image(x)


def clip_image_encoder(model: nn.Module, image_size: int) -> PooledEncoder:
    """The image tower of a CLIP (open_clip model or :class:`~vantage.models.OVTModel`): unit-norm embeddings at
    the tower's input size, with its own mean / std (OpenAI's when it does not record them)."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    clip = getattr(model, "clip", model)
    cfg = getattr(clip.visual, "preprocess_cfg", {}) or {}
    dim = int(getattr(clip.visual, "output_dim", 0) or 0)
    return PooledEncoder(model, _clip_encode, cfg.get("mean", OPENAI_DATASET_MEAN), cfg.get("std", OPENAI_DATASET_STD),
                         image_size, dim).eval()  # fmt: skip


def _hf_encode(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = net(pixel_values=x)
    pooled = getattr(out, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    hidden = out.last_hidden_state
    return hidden.mean(1) if hidden.dim() == 3 else hidden.mean((2, 3))


def hf_image_encoder(name: str) -> PooledEncoder:
    """A Hugging Face vision model (an HF id, or a local ``save_pretrained`` folder) by ``AutoModel``: its pooled
    output, else the mean of its last hidden state; the image processor's mean / std and size when it has one."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    local = Path(name).expanduser()
    if local.exists() or name.startswith((".", "/", "~")):
        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"{local} is not a saved Hugging Face model (no config.json in it)")
        name = str(local)
    hint = "pass a local folder written by save_pretrained (or set HF_HOME to a cache holding it)"
    net = pretrained_call(f"Hugging Face model {name}", hint, lambda: AutoModel.from_pretrained(name)).eval()
    config = AutoConfig.from_pretrained(name)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    try:
        proc = AutoImageProcessor.from_pretrained(name)
        mean, std = tuple(proc.image_mean), tuple(proc.image_std)
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # no processor saved: ImageNet statistics
    size = getattr(config, "image_size", None)
    size = size if isinstance(size, int) else None
    dim = int(getattr(config, "hidden_size", 0) or (getattr(config, "hidden_sizes", None) or [0])[-1])
    return PooledEncoder(net, _hf_encode, mean, std, size, dim).eval()
