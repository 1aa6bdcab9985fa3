"""Models: timm backbones with feature taps (3DTRL and CLIP models arrive with issues #4 and #5)."""

from vantage.models.backbones import FeatureExtractor, compress_tap, create_backbone, load_backbone_weights

__all__ = ["FeatureExtractor", "compress_tap", "create_backbone", "load_backbone_weights"]
