"""Models: timm backbones with feature taps, and the 3DTRL layer (CLIP models arrive with issue #5)."""

from vantage.models.backbones import (
    STEMS,
    FeatureExtractor,
    compress_tap,
    create_backbone,
    load_backbone_weights,
    random_projection,
)
from vantage.models.trl3d import TRL3D, TRL_MODES, TRLDiagnostics, euler_to_matrix, trl3d_param_formula
from vantage.models.trl3d_timm import add_3dtrl, find_3dtrl

__all__ = [
    "STEMS",
    "TRL3D",
    "TRL_MODES",
    "FeatureExtractor",
    "TRLDiagnostics",
    "add_3dtrl",
    "compress_tap",
    "create_backbone",
    "euler_to_matrix",
    "find_3dtrl",
    "load_backbone_weights",
    "random_projection",
    "trl3d_param_formula",
]
