"""Models: timm backbones with feature taps, the 3DTRL layer, CLIP (open_clip) with LoRA and the VIFormer, and
video classifiers (TimeSformer, per-frame ViT)."""

from vantage.models.backbones import (
    STEMS,
    FeatureExtractor,
    compress_tap,
    create_backbone,
    create_timm_model,
    load_backbone_weights,
    random_projection,
)
from vantage.models.clip import (
    OVTModel,
    VIFormer,
    VIFormerConfig,
    add_visual_lora,
    count_trainable,
    create_clip,
    get_clip_tokenizer,
    load_clip,
    merge_lora,
    save_clip,
)
from vantage.models.device import DEVICE_HELP, lightning_devices, module_device, resolve_device
from vantage.models.encoders import PooledEncoder, clip_image_encoder, hf_image_encoder
from vantage.models.hub import PretrainedUnavailable, hub_reachable, pretrained_call
from vantage.models.trl3d import RZ_CONVENTIONS, TRL3D, TRL_MODES, TRLDiagnostics, trl3d_param_formula
from vantage.models.trl3d_timm import (
    INSERTIONS,
    TRLInsertion,
    add_3dtrl,
    create_timm_encoder,
    find_3dtrl,
    register_3dtrl_insertion,
)
from vantage.models.video import (
    TIMESFORMER_CPU,
    FrameTransformer,
    create_frame_transformer,
    create_timesformer,
    timesformer_from_vit,
    timesformer_vit_shape,
    video_logits,
)

__all__ = [
    "DEVICE_HELP",
    "INSERTIONS",
    "RZ_CONVENTIONS",
    "STEMS",
    "TIMESFORMER_CPU",
    "TRL3D",
    "TRL_MODES",
    "FeatureExtractor",
    "FrameTransformer",
    "OVTModel",
    "PooledEncoder",
    "PretrainedUnavailable",
    "TRLDiagnostics",
    "TRLInsertion",
    "VIFormer",
    "VIFormerConfig",
    "add_3dtrl",
    "add_visual_lora",
    "clip_image_encoder",
    "compress_tap",
    "count_trainable",
    "create_backbone",
    "create_clip",
    "create_frame_transformer",
    "create_timesformer",
    "create_timm_encoder",
    "create_timm_model",
    "find_3dtrl",
    "get_clip_tokenizer",
    "hf_image_encoder",
    "hub_reachable",
    "lightning_devices",
    "load_backbone_weights",
    "load_clip",
    "merge_lora",
    "module_device",
    "pretrained_call",
    "random_projection",
    "register_3dtrl_insertion",
    "resolve_device",
    "save_clip",
    "timesformer_from_vit",
    "timesformer_vit_shape",
    "trl3d_param_formula",
    "video_logits",
]
