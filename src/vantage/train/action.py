"""Action recognition training (`vantage train action`): a video classifier (TimeSformer, or a per-frame timm ViT
with temporal attention pooling), optionally with 3DTRL, trained with cross-entropy on the training side of a
cross-view or cross-subject protocol (:mod:`vantage.data.actions`).

The CPU default is a 4-block, 64-wide TimeSformer on 8-frame 32 px clips; the paper's recipe (Kinetics-400
weights, SGD lr 0.005, 15 epochs, 224 px) is the ``paper`` preset's ``action.train`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vantage.data.sampling import EpochSampler, keyed_rng
from vantage.models import (
    TIMESFORMER_CPU,
    create_frame_transformer,
    create_timesformer,
    timesformer_from_vit,
    timesformer_vit_shape,
    video_logits,
)
from vantage.train.common import (
    CheckpointError,
    ResumableRNG,
    RunConfig,
    TRLOptions,
    check_finite,
    decay_groups,
    fit_resumable,
    load_vantage_checkpoint,
    warmup_cosine_scheduler,
)
from vantage.train.pretrain import check_home_spec, fold_input_norm, home_encoder_state, is_home_spec, load_home_encoder
from vantage.train.probe import CurveProbe, top1_probe

__all__ = ["ACTION_ARCHS", "ActionModule", "ActionTrainConfig", "KeyedClips", "action_data", "load_action_model",
           "train_action"]

ACTION_ARCHS = ("timesformer", "frame")


@dataclass
class ActionTrainConfig(TRLOptions, RunConfig):
    """One action-recognition run; defaults are the CPU scale."""

    arch: str = "timesformer"  # timesformer | frame (a timm image model per frame + temporal attention pooling)
    timesformer: dict[str, Any] = field(default_factory=dict)  # TimesformerConfig fields over TIMESFORMER_CPU
    pretrained: str | None = None  # vantage:zoo (a ViT made here), or for timesformer an HF id / save_pretrained folder
    frame_model: str = "deit_tiny_patch16_224"
    frame_model_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"patch_size": 8, "embed_dim": 64, "depth": 4, "num_heads": 4}
    )
    frame_pretrained: bool = False  # frame: timm pretrained weights
    protocol: str = "cross_view"  # cross_view | cross_subject
    train_cameras: list[str] = field(default_factory=lambda: ["tpv0", "tpv1"])  # cross_view
    train_actors: list[str] = field(default_factory=lambda: ["a0", "a1"])  # cross_subject
    image_size: int = 32
    clip_frames: int = 8
    clips_per_sequence: int = 2  # training clips per (recording, camera) and epoch, interleaved in time
    frame_jitter: bool = False  # training clips draw one frame per segment at random (TSN) instead of a fixed spread
    augment: str = "none"  # none | clip (one random resized crop + colour jitter per training clip)
    cache_frames: bool = True  # keep decoded frames in memory after the first epoch (off for large data)
    optimizer: str = "adamw"  # adamw | sgd (the reference's: momentum 0.9)
    lr: float = 1e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    warmup_epochs: int = 1
    epochs: int = 15
    batch_size: int = 8
    curve_points: int = 6  # learning curve: training-clip and test-side top-1 at this many steps (0: none)

    def __post_init__(self) -> None:
        from vantage.data.actions import ACTION_PROTOCOLS
        from vantage.data.transforms import CLIP_AUGMENTS

        super().__post_init__()
        if self.arch not in ACTION_ARCHS:
            raise ValueError(f"arch must be one of {ACTION_ARCHS}, got {self.arch!r}")
        if self.protocol not in ACTION_PROTOCOLS:
            raise ValueError(f"protocol must be one of {ACTION_PROTOCOLS}, got {self.protocol!r}")
        if self.clip_frames < 1 or self.clips_per_sequence < 1:
            raise ValueError("clip_frames and clips_per_sequence must be >= 1")
        if self.augment not in CLIP_AUGMENTS:
            raise ValueError(f"augment must be one of {CLIP_AUGMENTS}, got {self.augment!r}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be adamw or sgd, got {self.optimizer!r}")
        check_home_spec(self.pretrained)
        if self.arch == "frame" and self.pretrained and not is_home_spec(self.pretrained):
            raise ValueError(f"pretrained {self.pretrained!r}: the frame arch takes a vantage:<recipe> start here "
                             "(timm weights: frame_pretrained)")  # fmt: skip
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


def build_action_model(cfg: ActionTrainConfig, num_classes: int, timesformer: dict[str, Any] | None = None,
                       pretrained: bool = True) -> torch.nn.Module:  # fmt: skip
    """The classifier ``cfg`` describes; ``timesformer`` (a saved TimesformerConfig dict) rebuilds a trained one."""
    home = is_home_spec(cfg.pretrained) and pretrained
    if cfg.arch == "timesformer":
        weights = cfg.pretrained if pretrained and timesformer is None and not home else None
        model = create_timesformer(num_classes, cfg.clip_frames, cfg.image_size, timesformer or cfg.timesformer,
                                   weights, cfg.trl3d, cfg.trl_position, cfg.trl_rz_convention)  # fmt: skip
        if home:
            timesformer_from_vit(model, home_start(cfg))
        return model
    model = create_frame_transformer(num_classes, cfg.clip_frames, cfg.image_size, cfg.frame_model,
                                     cfg.frame_model_kwargs, cfg.frame_pretrained and pretrained, cfg.trl3d,
                                     cfg.trl_position, cfg.trl_rz_convention)  # fmt: skip
    if home:
        load_home_encoder(model.encoder, home_start(cfg), cfg.pretrained)
    return model


def home_start(cfg: ActionTrainConfig, progress: bool = True) -> dict[str, torch.Tensor]:
    """The ``vantage:<recipe>`` ViT of this run's frames (the TimeSformer's spatial twin, or the per-frame model),
    pretrained on first use and folded for the clips' ImageNet normalisation."""
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    if cfg.arch == "timesformer":
        from transformers import TimesformerConfig

        model, kwargs = "deit_tiny_patch16_224", timesformer_vit_shape(
            TimesformerConfig(**{**TIMESFORMER_CPU, **cfg.timesformer}))  # fmt: skip
    else:
        model, kwargs = cfg.frame_model, cfg.frame_model_kwargs
    state = home_encoder_state(cfg.pretrained, model, kwargs, cfg.image_size, progress)
    return fold_input_norm(state, IMAGENET_MEAN, IMAGENET_STD)


def _transform(size: int) -> Any:
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor

    return to_tensor(size, IMAGENET_MEAN, IMAGENET_STD)


def action_data(root: str | Path, cfg: ActionTrainConfig, side: str, clips_per_sequence: int | None = None) -> Any:
    """The clips of one side (``train`` / ``test``) of the run's protocol on the dataset at ``root``."""
    from vantage.data.actions import ActionClipDataset, action_split

    split = action_split(root, cfg.protocol, cfg.train_cameras, cfg.train_actors)
    k = cfg.clips_per_sequence if clips_per_sequence is None else clips_per_sequence
    return ActionClipDataset(root, split, side, cfg.clip_frames, k, _transform(cfg.image_size),
                             cache=cfg.cache_frames and side == "train")  # fmt: skip


class KeyedClips(Dataset):
    """Training clips keyed by (epoch, index) from :class:`EpochSampler` -> (frames, label); the key seeds the
    clip's frame jitter and augmentation, so a resumed run sees the same clips."""

    def __init__(self, clips: Any, cfg: ActionTrainConfig) -> None:
        from vantage.data.transforms import clip_augmentation

        self.clips, self.seed, self.jitter = clips, cfg.seed, cfg.frame_jitter
        self.augment = clip_augmentation(cfg.image_size) if cfg.augment == "clip" else None

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        with keyed_rng(self.seed, *key):
            item = self.clips.clip(key[1], self.jitter)
            frames = item["frames"] if self.augment is None else self.augment(item["frames"])
        return frames, item["label"]


class ActionModule(ResumableRNG, L.LightningModule):
    """The video classifier and its cross-entropy training."""

    def __init__(self, cfg: ActionTrainConfig, classes: list[str], timesformer: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.cfg, self.classes = cfg, list(classes)
        self.model = build_action_model(cfg, len(classes), timesformer, pretrained=timesformer is None)
        arch = _arch_config(self.model) if cfg.arch == "timesformer" else None
        self.save_hyperparameters({"cfg": vars(cfg), "classes": self.classes, "timesformer_config": arch,
                                   "action": True})  # fmt: skip

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Clips (B, T, C, H, W) -> logits (B, K)."""
        return video_logits(self.model, video)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        video, label = batch
        loss = torch.nn.functional.cross_entropy(self(video), label, label_smoothing=self.cfg.label_smoothing)
        check_finite(self.global_step, loss, {"cross-entropy": loss})
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        groups = decay_groups(self, cfg.weight_decay, ("cls_token", "position_embeddings", "time_embed", "pos_embed"))
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
        else:
            opt = torch.optim.AdamW(groups, lr=cfg.lr)
        return {"optimizer": opt,
                "lr_scheduler": warmup_cosine_scheduler(opt, self.trainer, cfg.epochs, cfg.warmup_epochs)}  # fmt: skip

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        if self.cfg.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")


def _arch_config(model: torch.nn.Module) -> dict[str, Any]:
    """A TimeSformer's architecture fields (enough to rebuild it without downloading anything)."""
    d = model.config.to_dict()
    for k in ("id2label", "label2id", "architectures", "transformers_version", "num_labels", "_name_or_path"):
        d.pop(k, None)
    return d


def load_action_model(path: str | Path) -> tuple[ActionModule, ActionTrainConfig]:
    """(module in eval mode, its config) from a `vantage train action` checkpoint (no download needed)."""
    hp, state = load_vantage_checkpoint(path, ("cfg", "classes", "action"), "vantage train action")
    try:
        cfg = ActionTrainConfig(**hp["cfg"])
        bare = ActionTrainConfig(**{**hp["cfg"], "frame_pretrained": False, "pretrained": None})
    except TypeError as e:
        raise CheckpointError(f"{path} is not a `vantage train action` checkpoint ({e})") from None
    module = ActionModule(bare, hp["classes"], hp.get("timesformer_config") or cfg.timesformer)
    module.load_state_dict(state)
    module.cfg = cfg
    return module.eval(), cfg


def train_action(cfg: ActionTrainConfig, data: str | Path, out: str | Path, progress: bool = True,
                 stop_after: int | None = None, overwrite: bool = False) -> Path:  # fmt: skip
    """Train (or resume from ``<out>/checkpoints/last.ckpt``) on an action dataset; returns the last checkpoint."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    clips = action_data(data, cfg, "train")
    loader = DataLoader(KeyedClips(clips, cfg), batch_size=cfg.batch_size,
                        sampler=EpochSampler(len(clips), cfg.seed, True), drop_last=len(clips) > cfg.batch_size,
                        num_workers=cfg.num_workers,
                        persistent_workers=cfg.num_workers > 0)  # fmt: skip
    if is_home_spec(cfg.pretrained):
        home_start(cfg, progress)  # pretrained (or read) here, so the run's progress setting applies
    module = ActionModule(cfg, clips.classes)
    probes = action_probes(data, cfg, clips) if cfg.curve_points else {}
    return fit_resumable(module, loader, cfg, out, progress, stop_after, overwrite=overwrite,
                         callbacks=[CurveProbe(probes, cfg.curve_points)] if probes else None)  # fmt: skip


PROBE_CLIPS = 96  # clips per learning-curve probe (spread over the side), enough to tell chance from learned


def action_probes(data: str | Path, cfg: ActionTrainConfig, train: Any) -> dict[str, Any]:
    """Learning-curve probes: top-1 on a fixed spread of training clips (``fit_top1``: the training fit) and of
    test-side clips (``test_top1``: new actors on seen cameras for cross-subject, unseen cameras for cross-view)."""
    test = action_data(data, cfg, "test", clips_per_sequence=1)

    def fixed(clips: Any) -> tuple[torch.Tensor, torch.Tensor]:
        idx = sorted({round(i * (len(clips) - 1) / max(1, PROBE_CLIPS - 1)) for i in range(PROBE_CLIPS)})
        items = [clips[i] for i in idx]
        return torch.stack([it["frames"] for it in items]), torch.tensor([it["label"] for it in items])

    return {name: top1_probe(*fixed(clips), lambda m, x: m(x), batch_size=cfg.batch_size)
            for name, clips in (("fit_top1", train), ("test_top1", test))}  # fmt: skip
