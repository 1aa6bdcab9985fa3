"""Multi-view video alignment training (`vantage train align`): a per-frame encoder (a timm ViT/DeiT, optionally
with 3DTRL, or any timm model such as a ResNet) trained so that synchronised frames of different cameras embed
together and distant frames apart.

Objectives (docs/video.md): ``tcn`` (faithful) is the reference's intended multi-view TCN margin loss on raw
embeddings, one view pair and one (anchor, positive, negative) frame triple per clip; ``infonce`` (improved)
L2-normalises a linear projection and applies symmetric multi-view InfoNCE over every camera and frame of the
clip, plus ``cycle_weight`` x TCC cycle consistency if asked. Trains on the first-person camera and the *seen*
third-person cameras only (the unseen-view protocol); ``train_fraction`` keeps that share of the training
trajectories (data efficiency).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vantage.data.sampling import EpochSampler, keyed_rng
from vantage.losses.time_contrastive import (
    cycle_consistency_loss,
    multiview_infonce,
    sample_tcn_frames,
    tcn_margin_loss,
)
from vantage.models import create_timm_encoder
from vantage.train.common import (
    CheckpointError,
    ResumableRNG,
    RunConfig,
    TRLOptions,
    check_finite,
    fit_resumable,
    load_vantage_checkpoint,
    warmup_cosine_scheduler,
)
from vantage.train.pretrain import check_home_spec, fold_input_norm, home_encoder_state, is_home_spec, load_home_encoder

__all__ = ["ALIGN_OBJECTIVES", "AlignModule", "AlignTrainConfig", "build_align_encoder", "load_align_encoder",
           "train_align"]  # fmt: skip

ALIGN_OBJECTIVES = ("tcn", "infonce")


@dataclass
class AlignTrainConfig(TRLOptions, RunConfig):
    """One alignment run; defaults are the CPU scale (a 4-block, 64-wide DeiT at 32 px)."""

    model: str = "deit_tiny_patch16_224"
    model_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"patch_size": 4, "embed_dim": 64, "depth": 4, "num_heads": 2}
    )
    pretrained: bool | str = False  # true: timm's weights for `model`; vantage:zoo: a ViT pretrained here
    image_size: int = 32
    objective: str = "infonce"  # tcn (faithful) | infonce (improved)
    projection_dim: int = 128  # infonce: linear head before L2 normalisation (0: none)
    temperature: float = 0.1
    cycle_weight: float = 0.0
    window: int = 2  # tcn: positives within +-window frames of the anchor
    margin: float = 30.0
    clip_frames: int = 8
    clip_stride: int = 2  # frames between a clip's frames; 0: spread them over the whole trajectory
    clips_per_sequence: int = 0  # training clips per trajectory and epoch, spread evenly (0: every start)
    train_fraction: float = 1.0
    optimizer: str = "adam"
    lr: float = 3e-4
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    warmup_epochs: int = 0
    epochs: int = 4
    batch_size: int = 4  # clips per step

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.objective not in ALIGN_OBJECTIVES:
            raise ValueError(f"objective must be one of {ALIGN_OBJECTIVES}, got {self.objective!r}")
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if self.objective == "tcn" and self.clip_frames < 2 * self.window + 2:
            raise ValueError(f"clip_frames must be >= 2 x window + 2 = {2 * self.window + 2} for the TCN objective")
        if self.clip_frames < 2 or self.clip_stride < 0 or self.clips_per_sequence < 0:
            raise ValueError("clip_frames must be >= 2, clip_stride >= 0 and clips_per_sequence >= 0")
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be adam or adamw, got {self.optimizer!r}")
        check_home_spec(self.pretrained)
        if isinstance(self.pretrained, str) and not is_home_spec(self.pretrained):
            raise ValueError(f"pretrained must be true, false or vantage:<recipe>, got {self.pretrained!r}")


def build_align_encoder(cfg: AlignTrainConfig) -> torch.nn.Module:
    """The per-frame encoder: a timm model without classifier (pooled / CLS feature), + 3DTRL if asked."""
    home = is_home_spec(cfg.pretrained)
    encoder = create_timm_encoder(cfg.model, 0, cfg.pretrained is True, cfg.image_size, cfg.model_kwargs, cfg.trl3d,
                                  cfg.trl_position, cfg.trl_rz_convention)  # fmt: skip
    if home:
        load_home_encoder(encoder, home_start(cfg), cfg.pretrained)
    return encoder


def home_start(cfg: AlignTrainConfig, progress: bool = True) -> dict[str, torch.Tensor]:
    """The ``vantage:<recipe>`` weights of this run's encoder, pretrained on first use and folded for the clips'
    ImageNet normalisation."""
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    state = home_encoder_state(cfg.pretrained, cfg.model, cfg.model_kwargs, cfg.image_size, progress)
    return fold_input_norm(state, IMAGENET_MEAN, IMAGENET_STD)


class _AlignClips(Dataset):
    """Training clips; an ``(epoch, index)`` key seeds the view pair and frame triple drawn for the TCN loss."""

    def __init__(self, clips: Any, cfg: AlignTrainConfig) -> None:
        self.clips, self.cfg = clips, cfg

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        epoch, index = key
        item = self.clips[index]
        out = {"frames": item["frames"]}  # (V, T, C, H, W)
        if self.cfg.objective == "tcn":
            with keyed_rng(self.cfg.seed, epoch, index):
                views = torch.randperm(item["frames"].shape[0])[:2]
                triple = sample_tcn_frames(item["frames"].shape[1], self.cfg.window, 1)[0]
            out["views"], out["triple"] = views, triple
        return out


def align_loader(data: str | Path, cfg: AlignTrainConfig) -> DataLoader:
    """Clips of the training trajectories (first-person + seen cameras), ``train_fraction`` of them."""
    from vantage.data import ClipDataset, load_records

    rows = [r for r in load_records(data) if r.split == "train" and r.sequence_id is not None]
    cams = sorted({r.camera_id for r in rows if r.extra.get("camera_group") in ("fpv", "seen")})
    if len(cams) < 2:
        raise ValueError(f"{data} has fewer than two training cameras (fpv + seen views) to align")
    clips = ClipDataset(data, split="train", cameras=cams, frames=cfg.clip_frames, stride=cfg.clip_stride,
                        clips_per_sequence=cfg.clips_per_sequence, transform=_to_tensor(cfg.image_size))  # fmt: skip
    if cfg.train_fraction < 1:
        keep = max(1, round(len(clips.sequences) * cfg.train_fraction))
        g = torch.Generator().manual_seed(cfg.seed)
        chosen = set(torch.randperm(len(clips.sequences), generator=g)[:keep].tolist())
        clips.clips = [c for c in clips.clips if c[0] in chosen]
    ds = _AlignClips(clips, cfg)
    return DataLoader(ds, batch_size=cfg.batch_size, sampler=EpochSampler(len(ds), cfg.seed, True),
                      drop_last=len(ds) > cfg.batch_size, num_workers=cfg.num_workers,
                      persistent_workers=cfg.num_workers > 0)  # fmt: skip


def _to_tensor(size: int) -> Any:
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor

    return to_tensor(size, IMAGENET_MEAN, IMAGENET_STD)


class AlignModule(ResumableRNG, L.LightningModule):
    """Encoder (+ projection for InfoNCE) trained with the configured time-contrastive objective."""

    def __init__(self, cfg: AlignTrainConfig) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": vars(cfg), "align": True})
        self.cfg = cfg
        self.encoder = build_align_encoder(cfg)
        dim = self.encoder.num_features
        use_head = cfg.objective == "infonce" and cfg.projection_dim > 0
        self.head = torch.nn.Linear(dim, cfg.projection_dim) if use_head else torch.nn.Identity()

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D) embeddings (the space the objective and the metrics use)."""
        return self.head(self.encoder(images))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        frames = batch["frames"]  # (B, V, T, C, H, W)
        b, v, t = frames.shape[:3]
        if self.cfg.objective == "tcn":
            ar = torch.arange(b, device=frames.device)
            v1, v2 = batch["views"][:, 0], batch["views"][:, 1]
            imgs = torch.stack([frames[ar, v1][ar[:, None], batch["triple"]],
                                frames[ar, v2][ar[:, None], batch["triple"]]], 1)  # (B, 2, 3, C, H, W)  # fmt: skip
            z = self.embed(imgs.flatten(0, 2)).unflatten(0, (b, 2, 3))
            loss = tcn_margin_loss(z[:, 0], z[:, 1], self.cfg.margin)
            terms = {"tcn margin loss": loss}
        else:
            z = self.embed(frames.flatten(0, 2)).unflatten(0, (b, v, t))
            loss = multiview_infonce(z, self.cfg.temperature)
            terms = {"multi-view InfoNCE": loss}
            if self.cfg.cycle_weight > 0:
                cyc = torch.stack([cycle_consistency_loss(z[k, 0], z[k, 1 + (k % (v - 1))], self.cfg.temperature)
                                   for k in range(b)]).mean()  # fmt: skip
                terms["cycle loss"] = cyc
                loss = loss + self.cfg.cycle_weight * cyc
        check_finite(self.global_step, loss, terms)
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opt = cls(self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return {"optimizer": opt,
                "lr_scheduler": warmup_cosine_scheduler(opt, self.trainer, cfg.epochs, cfg.warmup_epochs)}  # fmt: skip

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        if self.cfg.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")


def load_align_encoder(path: str | Path) -> tuple[AlignModule, AlignTrainConfig]:
    """(module in eval mode, its config) from a `vantage train align` checkpoint."""
    hp, state = load_vantage_checkpoint(path, ("cfg", "align"), "vantage train align")
    try:
        cfg = AlignTrainConfig(**{**hp["cfg"], "pretrained": False})
    except TypeError as e:
        raise CheckpointError(f"{path} is not a `vantage train align` checkpoint ({e})") from None
    module = AlignModule(cfg)
    module.load_state_dict(state)
    return module.eval(), cfg


def train_align(cfg: AlignTrainConfig, data: str | Path, out: str | Path, progress: bool = True,
                stop_after: int | None = None, overwrite: bool = False) -> Path:  # fmt: skip
    """Train (or resume from ``<out>/checkpoints/last.ckpt``) on a video dataset; returns the last checkpoint."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    loader = align_loader(data, cfg)
    if is_home_spec(cfg.pretrained):
        home_start(cfg, progress)  # pretrained (or read) here, so the run's progress setting applies
    module = AlignModule(cfg)
    return fit_resumable(module, loader, cfg, out, progress, stop_after, overwrite=overwrite)
