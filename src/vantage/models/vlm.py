"""A LLaVA-style vision-language model on HF transformers' real classes, whose vision tower is a (OVT-tuned) CLIP.

* :func:`convert_open_clip_tower`: an open_clip / vantage CLIP image tower (LoRA merged first) as an HF
  ``CLIPVisionModel`` with identical hidden states and pooled output;
* :func:`train_bpe_tokenizer`: a byte-level BPE tokenizer (HF ``tokenizers``) trained on the captions and
  question templates, with LLaVA's ``<image>`` token;
* :func:`build_llava`: ``LlavaForConditionalGeneration`` from a ``LlavaConfig`` of that tower and a small
  ``LlamaConfig`` decoder; LLaVA-1.5's projector (Linear, GELU, Linear) over the tower's patch tokens of
  ``vision_feature_layer`` (-2: the second-to-last block's output, CLS dropped: LLaVA's defaults);
* :func:`swap_tower`: the same VLM with another tower's weights (nothing else changes);
* :func:`load_vlm` / :func:`save_vlm`: a folder written by ``save_pretrained`` (model + tokenizer), or an HF id
  such as ``llava-hf/llava-1.5-7b-hf`` (offline, one line at once).

What an OVT tower means inside LLaVA: LLaVA reads patch tokens of layer -2, so of OVT's parameters only the LoRA
of blocks 1..L-1 acts there; the last block's LoRA, ``ln_post``, the projection and the VIFormer (which works on
the pooled embedding) do not. ``vision_feature_layer=-1`` lets the last block's LoRA act too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vantage.models.hub import pretrained_call

__all__ = [
    "CAPTION_PROMPT",
    "IMAGE_TOKEN",
    "LM_CPU",
    "POPE_PROMPT",
    "WHAT_PROMPT",
    "article",
    "build_llava",
    "build_prompt",
    "convert_open_clip_tower",
    "hf_vision_config",
    "load_vlm",
    "save_vlm",
    "swap_tower",
    "train_bpe_tokenizer",
    "vision_weights",
]

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN)
# a Llama decoder small enough to train from scratch on 2 CPU cores
LM_CPU: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 344,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128,
}


CAPTION_PROMPT = "Describe the image."
WHAT_PROMPT = "What is this object?"
POPE_PROMPT = "Is there {article} {category} in the image?"


def article(word: str) -> str:
    """'an' before a vowel sound (by its first letter), else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def build_prompt(tokenizer: Any, image_tokens: int, question: str) -> list[int]:
    """Token ids of ``<s>``, the image placeholders, and ``\\nQ: <question>\\nA:`` (the answer follows)."""
    image = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    return [tokenizer.bos_token_id, *([image] * image_tokens), *tokenizer(f"\nQ: {question}\nA:").input_ids]


def _visual(clip: nn.Module) -> nn.Module:
    """The open_clip ``VisionTransformer`` of a CLIP, an :class:`OVTModel` or the tower itself, LoRA merged."""
    from vantage.models.clip import merge_lora

    visual = getattr(getattr(clip, "clip", clip), "visual", clip)
    if not hasattr(visual, "transformer") or not hasattr(visual, "conv1"):
        raise ValueError(f"{type(visual).__name__} is not an open_clip ViT image tower (timm towers are not converted)")
    visual = merge_lora(visual)
    if getattr(visual, "attn_pool", None) is not None or getattr(visual, "final_ln_after_pool", False):
        raise ValueError("open_clip towers with attentional pooling or final_ln_after_pool have no HF CLIP equivalent")
    block = visual.transformer.resblocks[0]
    if not isinstance(getattr(block, "ls_1", nn.Identity()), nn.Identity):
        raise ValueError("open_clip towers with layer scale have no HF CLIP equivalent")
    return visual


def hf_vision_config(clip: nn.Module) -> Any:
    """The ``CLIPVisionConfig`` of an open_clip ViT tower, read from its weights (width, depth, heads, MLP width,
    patch and image size, GELU or QuickGELU)."""
    from open_clip.transformer import QuickGELU
    from transformers import CLIPVisionConfig

    visual = _visual(clip)
    block = visual.transformer.resblocks[0]
    size = visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    quick = any(isinstance(m, QuickGELU) for m in block.mlp.modules())
    return CLIPVisionConfig(
        hidden_size=visual.conv1.out_channels,
        intermediate_size=block.mlp.c_fc.out_features,
        num_hidden_layers=len(visual.transformer.resblocks),
        num_attention_heads=block.attn.num_heads,
        image_size=int(size),
        patch_size=visual.conv1.kernel_size[0],
        hidden_act="quick_gelu" if quick else "gelu",
        layer_norm_eps=visual.ln_pre.eps,
        projection_dim=visual.proj.shape[1] if visual.proj is not None else visual.conv1.out_channels,
    )


def vision_weights(clip: nn.Module) -> dict[str, torch.Tensor]:
    """An open_clip ViT tower's weights under HF ``CLIPVisionModel`` names (LoRA merged into qkv)."""
    visual = _visual(clip)
    sd = {k: v.detach().clone() for k, v in visual.state_dict().items()}
    out = {
        "vision_model.embeddings.patch_embedding.weight": sd["conv1.weight"],
        "vision_model.embeddings.class_embedding": sd["class_embedding"],
        "vision_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "vision_model.pre_layrnorm.weight": sd["ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": sd["ln_pre.bias"],
        "vision_model.post_layernorm.weight": sd["ln_post.weight"],
        "vision_model.post_layernorm.bias": sd["ln_post.bias"],
    }
    for i in range(len(visual.transformer.resblocks)):
        src, dst = f"transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}."
        q, k, v = sd[src + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = sd[src + "attn.in_proj_bias"].chunk(3)
        for name, w, b in (("q", q, qb), ("k", k, kb), ("v", v, vb)):
            out[f"{dst}self_attn.{name}_proj.weight"], out[f"{dst}self_attn.{name}_proj.bias"] = w, b
        pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
                 "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}  # fmt: skip
        for a, b in pairs.items():
            out[f"{dst}{b}.weight"], out[f"{dst}{b}.bias"] = sd[f"{src}{a}.weight"], sd[f"{src}{a}.bias"]
    return out


def convert_open_clip_tower(clip: nn.Module) -> nn.Module:
    """An HF ``CLIPVisionModel`` (eval mode) computing exactly what the open_clip ViT tower of ``clip`` computes:
    the same hidden states per block and the same pooled (``ln_post`` CLS) output."""
    from transformers import CLIPVisionModel

    tower = CLIPVisionModel(hf_vision_config(clip))
    weights = vision_weights(clip)
    if not any(k.startswith("vision_model.") for k in tower.state_dict()):  # transformers 5 drops the prefix
        weights = {k.removeprefix("vision_model."): v for k, v in weights.items()}
    missing, unexpected = tower.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"tower conversion left weights unmatched: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return tower.eval()


def train_bpe_tokenizer(texts: list[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained on ``texts`` (HF ``tokenizers``), as a ``PreTrainedTokenizerFast``
    with ``<s>``, ``</s>``, ``<pad>``, ``<unk>`` and LLaVA's ``<image>`` as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", extra_special_tokens={"image_token": IMAGE_TOKEN})  # fmt: skip


def build_llava(tower: nn.Module, tokenizer: Any, lm: dict[str, Any] | None = None, vision_feature_layer: int = -2,
                vision_feature_select_strategy: str = "default", seed: int = 0) -> nn.Module:  # fmt: skip
    """``LlavaForConditionalGeneration`` with ``tower``'s config and weights as its vision tower, a Llama decoder
    of ``lm`` fields (over :data:`LM_CPU`) with the tokenizer's vocabulary, initialised from ``seed``."""
    from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = tower.config
    patches = (vision.image_size // vision.patch_size) ** 2
    text = LlamaConfig(**{**LM_CPU, **(lm or {})}, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    config = LlavaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                         image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
                         image_seq_length=patches + (vision_feature_select_strategy == "full"),
                         vision_feature_layer=vision_feature_layer,
                         vision_feature_select_strategy=vision_feature_select_strategy,
                         projector_hidden_act="gelu")  # fmt: skip
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(tower.state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval()


def swap_tower(model: nn.Module, tower: nn.Module) -> nn.Module:
    """A copy of the VLM ``model`` whose vision tower holds ``tower``'s weights (same shape); the projector and the
    language model are untouched."""
    if tower.config.hidden_size != model.config.vision_config.hidden_size:
        raise ValueError(f"tower width {tower.config.hidden_size} differs from the VLM's "
                         f"{model.config.vision_config.hidden_size}")  # fmt: skip
    out = copy.deepcopy(model)
    out.model.vision_tower.load_state_dict(tower.state_dict())
    return out


def _quiet_hub() -> None:
    """No per-call progress bars from transformers (shard writing, weight loading): vantage prints its own."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def save_vlm(model: nn.Module, tokenizer: Any, folder: str | Path) -> Path:
    """``save_pretrained`` of the model and its tokenizer into ``folder`` (a real HF LLaVA folder)."""
    _quiet_hub()
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_vlm(name: str | Path) -> tuple[nn.Module, Any]:
    """(model in eval mode, tokenizer) from a folder written by :func:`save_vlm` / ``save_pretrained``, or an HF
    id of a LLaVA checkpoint (``llava-hf/...``; offline, one line at once)."""
    from transformers import AutoTokenizer, LlavaForConditionalGeneration

    _quiet_hub()
    text = str(name)
    local = Path(text).expanduser()
    if local.exists() or text.startswith((".", "/", "~")):
        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"{local} is not a saved VLM (no config.json in it)")
        try:
            kind = __import__("json").loads((local / "config.json").read_text()).get("model_type")
        except ValueError:
            kind = None
        if kind != "llava":
            raise ValueError(f"{local} is not a LLaVA model (config.json model_type={kind!r})")
        text = str(local)
    hint = "pass a local folder written by save_pretrained (or set HF_HOME to a cache holding it)"

    def load() -> tuple[nn.Module, Any]:
        return LlavaForConditionalGeneration.from_pretrained(text).eval(), AutoTokenizer.from_pretrained(text)

    if local.exists():  # a local folder: a failure is a broken folder, never a download problem
        try:
            return load()
        except Exception as e:  # safetensors, tokenizers and transformers each raise their own types
            raise ValueError(f"{local} is not a loadable VLM folder ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''})") from None  # fmt: skip
    return pretrained_call(f"LLaVA {text!r}", hint, load)
