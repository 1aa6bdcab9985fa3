"""Training: Lightning modules per method with shared checkpointing, logging and seeding."""

from vantage.train.classify import (
    ClassifyModule,
    ClassifyTrainConfig,
    build_classifier,
    load_classifier,
    train_classify,
    train_view_filter,
)
from vantage.train.clip import (
    ClipTrainConfig,
    ClipTuneModule,
    OVTTrainConfig,
    build_ovt_model,
    train_clip,
    train_ovt,
)
from vantage.train.common import (
    AtomicCheckpoint,
    RunConfig,
    TRLOptions,
    capture_rng,
    last_checkpoint,
    restore_rng,
    train_seconds,
)
from vantage.train.pretrain import HOME_RECIPES, HomeRecipe, home_encoder_state, is_home_spec
from vantage.train.ssl import PoseSSLModule, SSLTrainConfig, build_backbone, load_ssl_extractor, train_ssl

__all__ = [
    "HOME_RECIPES",
    "AtomicCheckpoint",
    "ClassifyModule",
    "ClassifyTrainConfig",
    "ClipTrainConfig",
    "ClipTuneModule",
    "HomeRecipe",
    "OVTTrainConfig",
    "PoseSSLModule",
    "RunConfig",
    "SSLTrainConfig",
    "TRLOptions",
    "build_backbone",
    "build_classifier",
    "build_ovt_model",
    "capture_rng",
    "home_encoder_state",
    "is_home_spec",
    "last_checkpoint",
    "load_classifier",
    "load_ssl_extractor",
    "restore_rng",
    "train_classify",
    "train_clip",
    "train_ovt",
    "train_seconds",
    "train_ssl",
    "train_view_filter",
]
