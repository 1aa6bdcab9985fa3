"""CLIP models through open_clip: creation by name (built-in, vantage's small CPU configs, or a saved folder),
LoRA on the vision tower's fused qkv projection (peft), the VIFormer embedding head of Omniview-Tuning, and
saving in open_clip's own folder format.

A saved folder holds ``open_clip_config.json`` and ``open_clip_pytorch_model.bin`` (LoRA merged), so plain
open_clip loads it with ``open_clip.create_model_and_transforms("local-dir:<folder>")`` (or, for a built-in
architecture, ``create_model_and_transforms(name, pretrained="<folder>/open_clip_pytorch_model.bin")``). A
VIFormer cannot be expressed in open_clip's architecture; it is stored next to them in ``vantage_ovt.pt`` and
:func:`load_clip` puts it back on top.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vantage.io import atomic_write_bytes, atomic_write_text
from vantage.models.hub import weights_guard

__all__ = [
    "CLIP_CONFIG_DIR",
    "OVTModel",
    "VIFormer",
    "VIFormerConfig",
    "add_visual_lora",
    "clip_model_config",
    "count_trainable",
    "create_clip",
    "get_clip_tokenizer",
    "load_clip",
    "merge_lora",
    "save_clip",
]

CLIP_CONFIG_DIR = resources.files("vantage") / "configs" / "clip"
_WEIGHTS = "open_clip_pytorch_model.bin"
_CONFIG = "open_clip_config.json"
_HEAD = "vantage_ovt.pt"
_registered = False


def _register_configs() -> None:
    """Make vantage's small CPU configs (``vantage-clip-tiny``, ``vantage-clip-micro``) known to open_clip."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(Path(str(CLIP_CONFIG_DIR)))
        _registered = True


def _folder(name: str) -> Path | None:
    """The saved-model folder ``name`` refers to (``local-dir:<path>`` or a path to such a folder), if any."""
    path = Path(name[len("local-dir:") :] if name.startswith("local-dir:") else name)
    return path if (path / _CONFIG).is_file() else None


def clip_model_config(name: str) -> dict[str, Any]:
    """open_clip's model config (embed_dim, vision_cfg, text_cfg) of a built-in / vantage name or saved folder."""
    import open_clip

    _register_configs()
    folder = _folder(name)
    if folder is not None:
        return json.loads((folder / _CONFIG).read_text())["model_cfg"]
    if name.startswith("local-dir:"):
        raise FileNotFoundError(f"{name}: no {_CONFIG} in that folder")
    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise ValueError(f"unknown CLIP model {name!r}: not an open_clip name, a vantage config, or a saved folder")
    return copy.deepcopy(cfg)


def create_clip(
    name: str, pretrained: str | None = None, image_size: int | None = None, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """(open_clip model in eval mode, its model config) for ``name``: an open_clip name with ``pretrained`` (a
    tag such as ``openai`` or a checkpoint file), a vantage config (``vantage-clip-tiny``), or a saved folder
    (``local-dir:<path>`` or the path itself; a VIFormer stored there is not applied: use :func:`load_clip`).
    ``image_size`` overrides the vision tower's input size (position embeddings are created at that size)."""
    import open_clip

    _register_configs()
    cfg = clip_model_config(name)
    folder = _folder(name)
    kwargs: dict[str, Any] = {"device": device}
    if image_size is not None:
        kwargs["force_image_size"] = image_size
        cfg["vision_cfg"]["image_size"] = image_size
    if folder is not None:
        if pretrained:
            raise ValueError(f"{name} is a saved folder; it brings its own weights (pretrained={pretrained!r} given)")
        with weights_guard(f"CLIP folder {folder}"):
            model = open_clip.create_model(f"local-dir:{folder}", **kwargs)
    else:
        known = open_clip.list_pretrained_tags_by_model(name)
        if pretrained and pretrained not in known and not Path(pretrained).is_file():
            raise FileNotFoundError(f"pretrained {pretrained!r} for {name}: neither a known tag {known} nor a file")
        if pretrained and not Path(pretrained).is_file():
            from vantage.models.hub import pretrained_call

            hint = "pass a local open_clip checkpoint file as pretrained (or a saved model folder as the model)"
            model = pretrained_call(f"open_clip {name} ({pretrained})", hint,
                                    lambda: open_clip.create_model(name, pretrained=pretrained, **kwargs))  # fmt: skip
        else:
            with _no_root_warnings(), weights_guard(f"CLIP weights {pretrained}"):  # open_clip logs "No pretrained
                model = open_clip.create_model(name, pretrained=pretrained or None, **kwargs)  # weights loaded" here
    return model.eval(), cfg


@contextlib.contextmanager
def _no_root_warnings() -> Iterator[None]:
    """Root-logger warnings off for the block (open_clip logs through the root logger)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def get_clip_tokenizer(name: str) -> Any:
    """open_clip's tokenizer for a model name or saved folder (the bundled BPE vocabulary: works offline)."""
    import open_clip

    _register_configs()
    folder = _folder(name)
    return open_clip.get_tokenizer(f"local-dir:{folder}" if folder is not None else name)


def count_trainable(module: nn.Module) -> int:
    """Number of parameters with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def add_visual_lora(clip: nn.Module, r: int = 8, alpha: float = 8.0, dropout: float = 0.0) -> nn.Module:
    """LoRA (peft) on the vision tower's fused qkv projection only, everything else frozen.

    open_clip's own towers use ``nn.MultiheadAttention``, whose fused projection is the parameter
    ``in_proj_weight``; peft's MHA layer would also adapt ``out_proj``, so the parameter itself is targeted
    (``target_parameters``). timm towers (``timm_model_name`` configs) have a ``qkv`` Linear, targeted as a
    module. Returns ``clip`` with the adapters injected (in place)."""
    from peft import LoraConfig, inject_adapter_in_model

    for p in clip.parameters():
        p.requires_grad_(False)
    has_mha = any(isinstance(m, nn.MultiheadAttention) for m in clip.visual.modules())
    if has_mha:
        if dropout:
            raise ValueError("LoRA on in_proj_weight (open_clip's nn.MultiheadAttention) cannot use dropout")
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=[],
                            target_parameters=["attn.in_proj_weight"])  # fmt: skip
    elif any(n.endswith("qkv") and isinstance(m, nn.Linear) for n, m in clip.visual.named_modules()):
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=["qkv"])
    else:
        raise ValueError("no fused qkv projection found in the vision tower (neither MultiheadAttention nor qkv)")
    inject_adapter_in_model(config, clip.visual)
    return clip


def merge_lora(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every LoRA adapter merged into its base weights and the wrappers removed
    (state-dict keys as before LoRA)."""
    from peft.tuners.lora import LoraLayer

    module = copy.deepcopy(module)
    while True:
        found = [(n, m) for n, m in module.named_modules() if isinstance(m, LoraLayer)]
        if not found:
            return module
        name, layer = found[0]  # outermost first; nested wrappers are found on the next pass
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        merged = layer.unload_and_optionally_merge_module(merge=True, safe_merge=False, adapter_names=None) \
            if hasattr(layer, "unload_and_optionally_merge_module") else _merge_linear(layer)  # fmt: skip
        setattr(parent, child, merged)


def _merge_linear(layer: Any) -> nn.Module:
    layer.merge()
    return layer.get_base_layer()


@dataclass
class VIFormerConfig:
    """The VIFormer head. ``faithful``: the paper's 2 post-LN layers on the pooled embedding alone (a length-1
    sequence, so attention reduces to a linear map). ``improved``: the same layers over the pooled embedding
    followed by the projected patch tokens (attention has something to attend to), with a zero-initialised
    output layer so the model equals the base CLIP at step 0."""

    mode: str = "faithful"  # faithful | improved
    layers: int = 2
    heads: int = 4
    ffn: int = 2048
    dropout: float = 0.1
    alpha: float = 0.1

    def __post_init__(self) -> None:
        if self.mode not in ("faithful", "improved"):
            raise ValueError(f"viformer mode must be faithful or improved, got {self.mode!r}")
        if self.layers < 1 or self.heads < 1 or self.ffn < 1 or not 0 <= self.dropout < 1:
            raise ValueError("viformer needs layers, heads, ffn >= 1 and dropout in [0, 1)")


class VIFormer(nn.Module):
    """Embedding transformation: ``normalize(z + alpha * f(z))`` with ``f`` a post-LN transformer encoder
    (ReLU FFN), applied to the projected image embedding ``z`` (and, improved, to the projected tokens)."""

    def __init__(self, dim: int, cfg: VIFormerConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or VIFormerConfig()
        if dim % cfg.heads:
            raise ValueError(f"VIFormer width {dim} is not divisible by heads={cfg.heads}")
        layer = nn.TransformerEncoderLayer(dim, cfg.heads, cfg.ffn, cfg.dropout, activation="relu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out = None
        if cfg.mode == "improved":
            self.out = nn.Linear(dim, dim)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    @property
    def uses_tokens(self) -> bool:
        return self.cfg.mode == "improved"

    def forward(self, z: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Unit-norm embeddings (B, D) from ``z`` (B, D) and, improved, projected tokens (B, N, D)."""
        seq = z[:, None] if tokens is None else torch.cat([z[:, None], tokens], dim=1)
        f = self.encoder(seq)[:, 0]
        if self.out is not None:
            f = self.out(f)
        return F.normalize(z + self.cfg.alpha * f, dim=-1)


class OVTModel(nn.Module):
    """A CLIP with Omniview-Tuning's parts: optional VIFormer on the image embedding and its own trainable
    logit scale (initialised to log(1/0.07)). ``encode_image``/``encode_text`` return unit-norm embeddings."""

    def __init__(self, clip: nn.Module, viformer: VIFormer | None = None, logit_scale: float = math.log(1 / 0.07)):
        super().__init__()
        self.clip = clip
        self.viformer = viformer
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale)))

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Unit-norm image embeddings (``normalize`` is accepted for open_clip compatibility; always on)."""
        visual = self.clip.visual
        if self.viformer is None:
            return F.normalize(self.clip.encode_image(images), dim=-1)
        if not self.viformer.uses_tokens:
            return self.viformer(self.clip.encode_image(images))
        if not hasattr(visual, "output_tokens"):
            raise ValueError(f"the improved VIFormer needs patch tokens; {type(visual).__name__} does not return them")
        keep, visual.output_tokens = visual.output_tokens, True
        try:
            z, tokens = visual(images)
        finally:
            visual.output_tokens = keep
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        return self.viformer(z, tokens)

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Unit-norm text embeddings (``normalize`` accepted for open_clip compatibility)."""
        return F.normalize(self.clip.encode_text(tokens), dim=-1)


def save_clip(model: nn.Module, model_cfg: dict[str, Any], folder: str | Path) -> Path:
    """Write ``model`` (an open_clip CLIP or an :class:`OVTModel`) to ``folder`` in open_clip's format (LoRA
    merged; an OVT logit scale replaces CLIP's); a VIFormer goes to ``vantage_ovt.pt``. Files are written
    atomically. Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ovt = model if isinstance(model, OVTModel) else None
    clip = merge_lora(ovt.clip if ovt else model)
    if ovt is not None:
        with torch.no_grad():
            clip.logit_scale.copy_(ovt.logit_scale.detach().reshape(clip.logit_scale.shape))
    state = {k: v.detach().cpu() for k, v in clip.state_dict().items()}
    atomic_write_bytes(folder / _WEIGHTS, _torch_bytes(state))
    preprocess = dict(getattr(clip.visual, "preprocess_cfg", {}))
    preprocess["size"] = model_cfg["vision_cfg"].get("image_size", 224)
    atomic_write_text(folder / _CONFIG, json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess}, indent=2))
    head = folder / _HEAD
    if ovt is not None and ovt.viformer is not None:
        payload = {"viformer": asdict(ovt.viformer.cfg), "state_dict": ovt.viformer.state_dict()}
        atomic_write_bytes(head, _torch_bytes(payload))
    elif head.exists():
        head.unlink()
    return folder


def _torch_bytes(obj: Any) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def load_clip(name: str, pretrained: str | None = None, image_size: int | None = None) -> tuple[OVTModel, dict]:
    """(:class:`OVTModel` in eval mode, model config) for any name :func:`create_clip` takes; a folder's
    VIFormer (``vantage_ovt.pt``) is restored on top, and the logit scale is the model's own."""
    clip, cfg = create_clip(name, pretrained=pretrained, image_size=image_size)
    viformer = None
    folder = _folder(name)
    if folder is not None and (folder / _HEAD).is_file():
        try:
            payload = torch.load(folder / _HEAD, map_location="cpu", weights_only=True)
            viformer = VIFormer(cfg["embed_dim"], VIFormerConfig(**payload["viformer"]))
            viformer.load_state_dict(payload["state_dict"])
        except Exception as e:
            raise ValueError(f"{folder / _HEAD} is corrupt or not a vantage VIFormer file: {type(e).__name__}") from e
    model = OVTModel(clip, viformer, logit_scale=float(clip.logit_scale.detach().reshape(-1)[0]))
    bad = next((k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()),
               None)  # fmt: skip
    if bad is not None:
        raise ValueError(f"CLIP model {name}: weights are not finite (first: {bad}); the run that made it diverged")
    return model.eval(), cfg
