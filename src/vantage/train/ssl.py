"""Pose-aware SSL training (`vantage train ssl`): SimCLR / VICReg / SimSiam / supervised, + trajectory loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from vantage.losses import SSL_METHODS, SSLObjective, trajectory_loss
from vantage.models import STEMS, FeatureExtractor, create_backbone
from vantage.train.common import (
    CheckpointError,
    ResumableRNG,
    RunConfig,
    check_finite,
    decay_groups,
    fit_resumable,
    load_vantage_checkpoint,
    strip_prefix,
    warmup_cosine_scheduler,
)

__all__ = ["PoseSSLModule", "SSLTrainConfig", "build_backbone", "load_ssl_extractor", "train_ssl"]


@dataclass
class SSLTrainConfig(RunConfig):
    """One SSL run. Defaults are the CPU scale; the `paper` preset sets the paper's (300 epochs, batch 300)."""

    method: str = "vicreg"
    traj_weight: float = 0.0  # lambda; 0 = plain SSL
    traj_on: str = "pooled"  # pooled (the paper) | projector
    backbone: str = "resnet18"
    stem: str = "cifar"  # cifar (3x3 stride-1 conv1, no max-pool: the paper) | cifar_pool | timm
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {channels: [16, 32, 64, 128]}
    pretrained: bool = False
    image_size: int = 32
    hflip: bool = False  # a flip mirrors the pose, so it is off unless asked for
    proj_dim: int = 2048
    hidden_dim: int = 2048
    optimizer: str = "lars"  # lars (the paper) | adamw | sgd
    lr: float = 0.3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    epochs: int = 10
    batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in SSL_METHODS:
            raise ValueError(f"method must be one of {SSL_METHODS}, got {self.method!r}")
        if self.traj_on not in ("pooled", "projector"):
            raise ValueError(f"traj_on must be pooled or projector, got {self.traj_on!r}")
        if self.traj_weight < 0:
            raise ValueError(f"traj_weight must be >= 0, got {self.traj_weight}")
        if self.optimizer not in ("lars", "adamw", "sgd"):
            raise ValueError(f"optimizer must be lars, adamw or sgd, got {self.optimizer!r}")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2, got {self.batch_size}")


def build_backbone(cfg: SSLTrainConfig) -> torch.nn.Module:
    """The timm backbone an SSL config describes (pooled output, no classifier)."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.backbone_kwargs.items()}
    return create_backbone(cfg.backbone, cfg.pretrained, stem=cfg.stem, **kwargs)


def load_ssl_extractor(path: str | Path) -> tuple[FeatureExtractor, SSLTrainConfig]:
    """The frozen backbone of a `vantage train ssl` checkpoint, and the config it was trained with."""
    hp, state = load_vantage_checkpoint(path, ("cfg", "num_classes"), "vantage train ssl")
    try:
        cfg = SSLTrainConfig(**{**hp["cfg"], "pretrained": False})
    except TypeError as e:
        raise CheckpointError(f"{path} is not a `vantage train ssl` checkpoint ({e})") from None
    model = build_backbone(cfg)
    model.load_state_dict(strip_prefix(state, "backbone.model."))
    return FeatureExtractor(model).eval(), cfg


class PoseSSLModule(ResumableRNG, L.LightningModule):
    """Backbone + SSL objective; the trajectory loss on (L, C, R) is added with weight ``traj_weight``."""

    def __init__(self, cfg: SSLTrainConfig, num_classes: int) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": vars(cfg), "num_classes": num_classes})
        self.cfg = cfg
        self.backbone = FeatureExtractor(build_backbone(cfg))
        self.objective = SSLObjective(
            cfg.method, self.backbone.num_features, cfg.proj_dim, cfg.hidden_dim, num_classes=num_classes
        )

    def setup(self, stage: str) -> None:
        if (
            self.trainer is not None
            and self.trainer.world_size > 1
            and hasattr(self.objective.criterion, "gather_distributed")
        ):
            self.objective.criterion.gather_distributed = True  # negatives / statistics over all GPUs

    def trajectory_term(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The trajectory loss of a batch of unaugmented (L, C, R) triplets, on the configured feature."""
        b = batch["centre"].shape[0]
        h = self.backbone(torch.cat([batch["left"], batch["centre"], batch["right"]]))
        z = self.objective.embed(h) if self.cfg.traj_on == "projector" else h
        return trajectory_loss(z[:b], z[b : 2 * b], z[2 * b :])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        h1, h2 = self.backbone(batch["centre_aug1"]), self.backbone(batch["centre_aug2"])
        sem = self.objective(h1, h2, batch["label"])
        loss, terms = sem, {f"{self.cfg.method} loss": sem}
        self.log("train/sem_loss", sem, prog_bar=True, sync_dist=True)
        if self.cfg.traj_weight > 0:
            traj = terms["trajectory loss"] = self.trajectory_term(batch)
            loss = sem + self.cfg.traj_weight * traj
            self.log("train/traj_loss", traj, prog_bar=True, sync_dist=True)
        check_finite(self.global_step, loss, terms)
        self.log("train/loss", loss, sync_dist=True)
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        groups = decay_groups(self, cfg.weight_decay)
        lr = cfg.lr * cfg.batch_size / 256 if cfg.optimizer == "lars" else cfg.lr  # linear scaling for LARS
        if cfg.optimizer == "lars":
            from lightly.utils.lars import LARS

            opt = LARS(groups, lr=lr, momentum=0.9)
        elif cfg.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=lr, momentum=0.9)
        else:
            opt = torch.optim.AdamW(groups, lr=lr)
        return {
            "optimizer": opt,
            "lr_scheduler": warmup_cosine_scheduler(opt, self.trainer, cfg.epochs, cfg.warmup_epochs),
        }


def triplet_loader(root: str | Path, cfg: SSLTrainConfig, split: str = "train", shuffle: bool = True) -> DataLoader:
    """Batches of triplets with two SSL augmentations of the centre, resized to ``cfg.image_size``."""
    from vantage.data import EpochSampler, TripletDataset, ssl_augmentation, to_tensor

    ds = TripletDataset(
        root,
        seed=cfg.seed,
        split=split,
        transform=to_tensor(cfg.image_size),
        augment=ssl_augmentation(cfg.image_size, hflip_prob=0.5 if cfg.hflip else 0.0),
    )
    drop_last = shuffle and len(ds) > cfg.batch_size
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=EpochSampler(len(ds), cfg.seed, shuffle),
        drop_last=drop_last,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
    )


def train_ssl(
    cfg: SSLTrainConfig,
    data: str | Path,
    out: str | Path,
    progress: bool = True,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Train (or resume from ``<out>/checkpoints/last.ckpt``); returns the last checkpoint's path.

    ``stop_after=n`` ends this invocation once n epochs in total are done (the schedule still spans
    ``cfg.epochs``), for job slots shorter than the run; calling again resumes exactly where it stopped.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    loader = triplet_loader(data, cfg)
    module = PoseSSLModule(cfg, num_classes=len(loader.dataset.classes))
    return fit_resumable(module, loader, cfg, out, progress, stop_after, True, True, overwrite)
