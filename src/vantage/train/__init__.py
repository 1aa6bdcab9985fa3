"""Training: Lightning modules per method with shared checkpointing, logging and seeding."""

from vantage.train.common import AtomicCheckpoint, capture_rng, last_checkpoint, restore_rng
from vantage.train.ssl import PoseSSLModule, SSLTrainConfig, build_backbone, load_ssl_extractor, train_ssl

__all__ = [
    "AtomicCheckpoint",
    "PoseSSLModule",
    "SSLTrainConfig",
    "build_backbone",
    "capture_rng",
    "last_checkpoint",
    "load_ssl_extractor",
    "restore_rng",
    "train_ssl",
]
