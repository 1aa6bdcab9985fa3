"""Video classifiers for action recognition: TimeSformer (divided space-time attention, from HF transformers) and a
cheaper per-frame timm ViT with temporal attention pooling; either with 3DTRL through :func:`add_3dtrl`.

Both take a clip (B, T, C, H, W) and give class logits through :func:`video_logits`. TimeSformer loads
pretrained weights by HF model id (``facebook/timesformer-base-finetuned-k400`` and friends) or from a local
folder written by ``save_pretrained``; offline, a missing checkpoint fails at once in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vantage.models.hub import pretrained_call
from vantage.models.trl3d_timm import add_3dtrl, create_timm_encoder

__all__ = [
    "TIMESFORMER_CPU",
    "FrameTransformer",
    "create_frame_transformer",
    "create_timesformer",
    "timesformer_from_vit",
    "timesformer_vit_shape",
    "video_logits",
]

# a TimeSformer small enough for CPU work at 32 px (4 blocks, 64 wide, 8 px patches: 4 x 4 patches a frame)
TIMESFORMER_CPU: dict[str, Any] = {
    "patch_size": 8,
    "hidden_size": 64,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 128,
}


def video_logits(model: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """Class logits (B, K) of a clip batch (B, T, C, H, W) from either kind of video classifier."""
    out = model(video)
    return out.logits if hasattr(out, "logits") else out


def create_timesformer(num_classes: int, num_frames: int, image_size: int, config: dict[str, Any] | None = None,
                       pretrained: str | None = None, trl3d: str = "none", trl_position: float = 1 / 3,
                       rz_convention: str | None = None) -> nn.Module:  # fmt: skip
    """A ``TimesformerForVideoClassification`` for ``num_classes`` on clips of ``num_frames`` x ``image_size``.

    ``pretrained`` (an HF model id or a local ``save_pretrained`` folder) loads those weights; the classifier is
    re-initialised when the class count differs, and position / time embeddings are resampled to the clip size
    at run time. Otherwise the model is built from ``config`` (TimesformerConfig fields over
    :data:`TIMESFORMER_CPU`). 3DTRL is inserted when ``trl3d`` is a mode.
    """
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    if pretrained:
        local = Path(pretrained).expanduser()
        if local.exists() or pretrained.startswith((".", "/", "~")):
            if not (local / "config.json").is_file():
                raise FileNotFoundError(f"{local} is not a saved TimeSformer (no config.json in it)")
            pretrained = str(local)
        hint = "pass a local folder written by save_pretrained (or set HF_HOME to a cache holding it)"

        def load() -> nn.Module:
            return TimesformerForVideoClassification.from_pretrained(
                pretrained, num_labels=num_classes, ignore_mismatched_sizes=True
            )

        model = pretrained_call(f"TimeSformer {pretrained!r}", hint, load)
        model.config.num_frames, model.config.image_size = num_frames, image_size  # layers read these per call
    else:
        fields = {**TIMESFORMER_CPU, **(config or {})}
        fields.update(num_labels=num_classes, num_frames=num_frames, image_size=image_size)
        model = TimesformerForVideoClassification(TimesformerConfig(**fields))
    if image_size % model.config.patch_size:
        raise ValueError(f"image_size {image_size} is not a multiple of the patch size {model.config.patch_size}")
    if trl3d != "none":
        add_3dtrl(model, position=trl_position, mode=trl3d, rz_convention=rz_convention)
    return model


class FrameTransformer(nn.Module):
    """A per-frame image encoder (timm, optionally with 3DTRL: one camera per frame) whose frame features, plus a
    learned time embedding, are pooled by one attention query and classified."""

    def __init__(self, encoder: nn.Module, num_classes: int, num_frames: int, heads: int = 4) -> None:
        super().__init__()
        self.encoder = encoder
        dim = encoder.num_features
        if dim % heads:
            heads = 1
        self.time_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        nn.init.trunc_normal_(self.query, std=0.02)
        self.pool = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> logits (B, K)."""
        b, t = video.shape[:2]
        if t > self.time_embed.shape[1]:
            raise ValueError(f"clip has {t} frames, the model was built for at most {self.time_embed.shape[1]}")
        feats = self.encoder(video.flatten(0, 1)).unflatten(0, (b, t)) + self.time_embed[:, :t]
        pooled, _ = self.pool(self.query.expand(b, -1, -1), feats, feats, need_weights=False)
        return self.head(self.norm(pooled[:, 0]))


def create_frame_transformer(num_classes: int, num_frames: int, image_size: int, model: str = "deit_tiny_patch16_224",
                             model_kwargs: dict[str, Any] | None = None, pretrained: bool = False,
                             trl3d: str = "none", trl_position: float = 1 / 3,
                             rz_convention: str | None = None) -> FrameTransformer:  # fmt: skip
    """The per-frame baseline: timm ``model`` (no classifier) per frame, ± 3DTRL, temporal attention pooling."""
    encoder = create_timm_encoder(model, 0, pretrained, image_size, model_kwargs, trl3d, trl_position, rz_convention)
    return FrameTransformer(encoder, num_classes, num_frames)


def timesformer_vit_shape(model: Any) -> dict[str, Any]:
    """The timm ViT ``model_kwargs`` whose weights fit a TimeSformer's spatial path (patch embedding, position
    embeddings, spatial attention, MLPs, norms); ``model`` is the TimeSformer or its ``TimesformerConfig``."""
    c = getattr(model, "config", model)
    if c.intermediate_size % c.hidden_size:
        raise ValueError(f"a TimeSformer with intermediate_size {c.intermediate_size} not a multiple of hidden_size "
                         f"{c.hidden_size} has no timm ViT twin")  # fmt: skip
    return {"patch_size": c.patch_size, "embed_dim": c.hidden_size, "depth": c.num_hidden_layers,
            "num_heads": c.num_attention_heads, "mlp_ratio": c.intermediate_size // c.hidden_size,
            "qkv_bias": c.qkv_bias}  # fmt: skip


_VIT_TO_TIMESFORMER = {
    "cls_token": "embeddings.cls_token",
    "pos_embed": "embeddings.position_embeddings",
    "patch_embed.proj": "embeddings.patch_embeddings.projection",
    "norm": "layernorm",
    "norm1": "layernorm_before",
    "attn.qkv": "attention.attention.qkv",
    "attn.proj": "attention.output.dense",
    "norm2": "layernorm_after",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}


def timesformer_from_vit(model: nn.Module, vit_state: dict[str, torch.Tensor]) -> None:
    """Start a TimeSformer's spatial path from timm ViT weights (the ImageNet start of the paper, made here from any
    ViT); each temporal block then adds zero (its output projection zero-initialised, as the original code does
    for an image start), so the untrained video model equals the image model applied per frame."""
    body = model.timesformer
    own = body.state_dict()
    new: dict[str, torch.Tensor] = {}
    for key, value in vit_state.items():
        parts = key.split(".")
        if parts[0] == "blocks":
            sub = ".".join(parts[2:-1])
            target = f"encoder.layer.{parts[1]}.{_VIT_TO_TIMESFORMER.get(sub, sub)}.{parts[-1]}"
        else:
            stem = ".".join(parts[:-1]) if parts[-1] in ("weight", "bias") else key
            mapped = _VIT_TO_TIMESFORMER.get(stem)
            target = None if mapped is None else (mapped if stem == key else f"{mapped}.{parts[-1]}")
        if target is None or target not in own or own[target].shape != value.shape:
            raise ValueError(f"ViT weight {key} {tuple(value.shape)} has no place in this TimeSformer")
        new[target] = value
    body.load_state_dict(new, strict=False)
    for layer in body.encoder.layer:
        nn.init.zeros_(layer.temporal_dense.weight)
        nn.init.zeros_(layer.temporal_dense.bias)
