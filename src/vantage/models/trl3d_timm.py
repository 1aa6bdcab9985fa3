"""Insert a :class:`~vantage.models.trl3d.TRL3D` into timm models without copying their code.

The layer becomes a submodule ``model.trl3d`` (so ``state_dict`` gains ``trl3d.*`` keys and keeps every
original key) and runs from a forward hook at the insertion point, so ``forward``, ``forward_features`` and
``forward_intermediates`` all pass through it:

* ViT / DeiT (timm ``VisionTransformer`` and subclasses): before block round(depth x position); the patch grid
  is read from the input image size at each call (any resolution with ``dynamic_img_size=True``).
* Swin (timm ``SwinTransformer``): after the patch merging that opens stage round(stages x position) (stage 1
  at the default 1/3: after the first patch merging), on all tokens (no CLS).
* TNT (timm ``TNT``): before outer block round(depth x position), on the outer (patch) tokens.
* TimeSformer (HF ``transformers`` ``TimesformerModel`` / ``TimesformerForVideoClassification``): before encoder
  layer round(depth x position), on all T frames at once: depth per patch token of every frame, one camera per
  video (the CLS token, which TimeSformer already averages over frames, and the tokens pooled over space and
  time). Registered by class name, so transformers is imported only when such a model is given.

Inserting adds exactly the layer's parameters and no block (the 3DTRL reference's TimeSformer model had four
extra randomly initialised blocks its baseline lacked), and the model's own weight init never touches the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vantage.models.trl3d import TRL3D

__all__ = ["INSERTIONS", "TRLInsertion", "add_3dtrl", "create_timm_encoder", "find_3dtrl", "register_3dtrl_insertion"]


class TRLInsertion(nn.Module):
    """Holds the layer and the hooks' state; the owning model is referenced, not registered (no cycle)."""

    def __init__(self, trl: TRL3D, kind: str, owner: nn.Module) -> None:
        super().__init__()
        self.layer = trl
        self.kind = kind
        object.__setattr__(self, "_owner", owner)
        self._grid: tuple[int, int] | None = None

    # --- hooks (bound methods, so deepcopy and pickling of the model keep them pointing at the copy) ---

    def record_image_size(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        """ViT: forward pre-hook on patch_embed, remembers the patch grid of this input."""
        pe = module
        hw = args[0].shape[-2:]
        if hasattr(pe, "dynamic_feat_size"):
            self._grid = tuple(pe.dynamic_feat_size(tuple(hw)))
        else:
            self._grid = tuple(int(s) // int(p) for s, p in zip(hw, pe.patch_size, strict=True))

    def vit_pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        return (self.layer(x, self._grid, pos2d=self._vit_pos2d(x)), *args[1:])

    def _vit_pos2d(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.layer.mode != "faithful":
            return None
        model = self._owner
        pos = getattr(model, "pos_embed", None)
        if pos is None:
            return None
        p = self.layer.num_prefix_tokens
        if getattr(model, "no_embed_class", False):
            pos_tokens, pos_prefix = pos, None
        else:
            pos_prefix, pos_tokens = pos[:, :p], pos[:, p:]
        old = tuple(model.patch_embed.grid_size)
        if self._grid != old:
            from timm.layers import resample_abs_pos_embed

            pos_tokens = resample_abs_pos_embed(pos_tokens, new_size=self._grid, old_size=old, num_prefix_tokens=0)
        if pos_prefix is None:
            pos_prefix = pos_tokens.new_zeros(1, x.shape[1] - pos_tokens.shape[1], pos_tokens.shape[2])
        return torch.cat([pos_prefix, pos_tokens], 1)

    def swin_hook(self, module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> torch.Tensor:
        b, h, w, c = out.shape  # timm Swin keeps tokens as NHWC
        return self.layer(out.reshape(b, h * w, c), (h, w)).reshape(b, h, w, c)

    def timesformer_pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """TimeSformer: tokens are CLS then patch-major, frame-minor; the layer wants frame-major: permute, and back."""
        x, cfg = args[0], self._owner.config
        b, n1, d = x.shape
        t = cfg.num_frames
        n = (n1 - 1) // t
        gw = cfg.image_size // cfg.patch_size
        tokens = x[:, 1:].reshape(b, n, t, d).transpose(1, 2).reshape(b, t * n, d)
        pos2d = None
        if self.layer.mode == "faithful":
            pos = self._owner.embeddings.position_embeddings
            if pos.shape[1] == n + 1:
                pos2d = torch.cat([pos[:, :1], pos[:, 1:].repeat(1, t, 1)], 1)
        y = self.layer(torch.cat([x[:, :1], tokens], 1), (n // gw, gw), frames=t, pos2d=pos2d)
        back = y[:, 1:].reshape(b, t, n, d).transpose(1, 2).reshape(b, n * t, d)
        return (torch.cat([y[:, :1], back], 1), *args[1:])

    def tnt_pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        pixel, patch = args[0], args[1]
        model = self._owner
        n = patch.shape[1] - self.layer.num_prefix_tokens
        h = w = round(n**0.5)
        pos2d = model.patch_pos if self.layer.mode == "faithful" else None
        return (pixel, self.layer(patch, (h, w), pos2d=pos2d), *args[2:])


def find_3dtrl(model: nn.Module) -> TRL3D:
    """The 3DTRL layer inserted into ``model`` (for diagnostics: ``find_3dtrl(m).keep_diagnostics = True``)."""
    ins = getattr(model, "trl3d", None)
    if not isinstance(ins, TRLInsertion):
        raise ValueError(f"{type(model).__name__} has no 3DTRL; insert one with add_3dtrl(model)")
    return ins.layer


Inserter = Callable[[nn.Module, float, str, dict[str, Any]], TRLInsertion]
INSERTIONS: dict[type | str, Inserter] = {}


def register_3dtrl_insertion(model_class: type | str) -> Callable[[Inserter], Inserter]:
    """Decorator: ``fn(model, position, mode, layer_kwargs) -> TRLInsertion`` inserts 3DTRL into instances of
    ``model_class`` (and its subclasses, unless a subclass has its own entry). A class may be given by its
    qualified name (``"package.module.Class"``) so that its library is imported only when it is used."""

    def wrap(fn: Inserter) -> Inserter:
        INSERTIONS[model_class] = fn
        return fn

    return wrap


def _block_index(blocks: Any, position: float) -> int:
    return min(len(blocks) - 1, round(len(blocks) * position))


def _timm_class(module: str, name: str) -> type:
    import importlib

    return getattr(importlib.import_module(f"timm.models.{module}"), name)


@register_3dtrl_insertion(_timm_class("vision_transformer", "VisionTransformer"))
def _insert_vit(model: nn.Module, position: float, mode: str, kw: dict[str, Any]) -> TRLInsertion:
    trl = TRL3D(model.embed_dim, mode, num_prefix_tokens=model.num_prefix_tokens, **kw)
    ins = TRLInsertion(trl, "vit", model)
    model.patch_embed.register_forward_pre_hook(ins.record_image_size)
    model.blocks[_block_index(model.blocks, position)].register_forward_pre_hook(ins.vit_pre_hook)
    return ins


@register_3dtrl_insertion(_timm_class("tnt", "TNT"))
def _insert_tnt(model: nn.Module, position: float, mode: str, kw: dict[str, Any]) -> TRLInsertion:
    ins = TRLInsertion(TRL3D(model.embed_dim, mode, num_prefix_tokens=1, **kw), "tnt", model)
    model.blocks[_block_index(model.blocks, position)].register_forward_pre_hook(ins.tnt_pre_hook)
    return ins


_TIMESFORMER = "transformers.models.timesformer.modeling_timesformer"


@register_3dtrl_insertion(f"{_TIMESFORMER}.TimesformerModel")
@register_3dtrl_insertion(f"{_TIMESFORMER}.TimesformerForVideoClassification")
def _insert_timesformer(model: nn.Module, position: float, mode: str, kw: dict[str, Any]) -> TRLInsertion:
    if model.config.attention_type != "divided_space_time":
        raise ValueError(f"3DTRL needs a divided space-time TimeSformer, got attention_type "
                         f"{model.config.attention_type!r}")  # fmt: skip
    base = getattr(model, "timesformer", model)
    ins = TRLInsertion(TRL3D(model.config.hidden_size, mode, num_prefix_tokens=1, **kw), "timesformer", base)
    layers = base.encoder.layer
    layers[_block_index(layers, position)].register_forward_pre_hook(ins.timesformer_pre_hook)
    return ins


def _find_insertion(model: nn.Module) -> Inserter | None:
    for c in type(model).__mro__:
        fn = INSERTIONS.get(c) or INSERTIONS.get(f"{c.__module__}.{c.__qualname__}")
        if fn is not None:
            return fn
    return None


@register_3dtrl_insertion(_timm_class("swin_transformer", "SwinTransformer"))
def _insert_swin(model: nn.Module, position: float, mode: str, kw: dict[str, Any]) -> TRLInsertion:
    stage = max(1, min(len(model.layers) - 1, round(len(model.layers) * position)))
    down = model.layers[stage].downsample
    if isinstance(down, nn.Identity):
        raise ValueError(f"{type(model).__name__} stage {stage} has no patch merging to insert 3DTRL after")
    dim = getattr(down, "out_dim", None) or model.feature_info[stage]["num_chs"]
    ins = TRLInsertion(TRL3D(dim, mode, num_prefix_tokens=0, **kw), "swin", model)
    down.register_forward_hook(ins.swin_hook)
    return ins


def add_3dtrl(model: nn.Module, position: float = 1 / 3, mode: str = "improved", **layer_kwargs: Any) -> nn.Module:
    """Insert a 3DTRL into a model in place and return it; the model's class (or a base class) must be in
    :data:`INSERTIONS` (timm ViT/DeiT, Swin, TNT and HF TimeSformer are; add others with
    :func:`register_3dtrl_insertion`).

    ``position`` is the relative depth (1/3: before block 4 of 12, the paper's best). ``layer_kwargs`` go to
    :class:`TRL3D` (``rotation``, ``camera_hidden``, ``depth_offset``, ``rz_convention``). The new parameters
    are created on the model's device and dtype.
    """
    if hasattr(model, "trl3d"):
        raise ValueError("this model already has a 3DTRL")
    if not 0 <= position <= 1:
        raise ValueError(f"position is a relative depth in [0, 1], got {position}")
    insert = _find_insertion(model)
    if insert is None:
        known = ", ".join(c if isinstance(c, str) else c.__name__ for c in INSERTIONS)
        raise ValueError(f"add_3dtrl has no insertion for {type(model).__name__}; registered: {known}")
    ref = next(model.parameters(), None)
    ins = insert(model, position, mode, {k: v for k, v in layer_kwargs.items() if v is not None})
    if ref is not None:
        ins.to(device=ref.device, dtype=ref.dtype)
    model.trl3d = ins
    return model


def create_timm_encoder(name: str, num_classes: int = 0, pretrained: bool = False, image_size: int | None = None,
                        model_kwargs: dict[str, Any] | None = None, trl3d: str = "none", trl_position: float = 1 / 3,
                        rz_convention: str | None = None) -> nn.Module:  # fmt: skip
    """A timm model by name (architecture checked, lists in ``model_kwargs`` turned into tuples, ``img_size`` set
    from ``image_size`` for transformers that take it), with 3DTRL inserted when ``trl3d`` is a mode."""
    from vantage.models.backbones import check_timm_name, create_timm_model

    check_timm_name(name)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in (model_kwargs or {}).items()}
    if image_size is not None and "img_size" not in kwargs and any(k in name for k in _IMG_SIZE_FAMILIES):
        kwargs["img_size"] = image_size
    model = create_timm_model(name, pretrained, num_classes=num_classes, **kwargs)
    if trl3d != "none":
        add_3dtrl(model, position=trl_position, mode=trl3d, rz_convention=rz_convention)
    return model


_IMG_SIZE_FAMILIES = ("vit", "deit", "swin", "tnt", "eva", "beit")
