"""Models: timm backbones with feature taps (3DTRL and CLIP models arrive with issues #4 and #5)."""

from vantage.models.backbones import (
    STEMS,
    FeatureExtractor,
    compress_tap,
    create_backbone,
    load_backbone_weights,
    random_projection,
)

__all__ = ["STEMS", "FeatureExtractor", "compress_tap", "create_backbone", "load_backbone_weights", "random_projection"]
