"""Supervised classification under a viewpoint protocol (`vantage train classify`), with or without 3DTRL.

Train on a restricted view range of the multi-view data (the ``canonical`` set, or the upper half of Fib(50)),
on in-domain categories; or on any torchvision ImageFolder (``<folder>/train/<class>/*.png``). Checkpoints are
atomic; re-running the same command resumes from ``last.ckpt``; sampling and augmentation are keyed on
(seed, epoch, index) so a resumed run ends where an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from vantage.data.sampling import KeyedAugment
from vantage.models import create_timm_encoder
from vantage.train.common import (
    ResumableRNG,
    RunConfig,
    TRLOptions,
    check_finite,
    decay_groups,
    fit_resumable,
    load_vantage_checkpoint,
    strip_prefix,
    warmup_cosine_scheduler,
)
from vantage.train.probe import CurveProbe, top1_probe

__all__ = [
    "ClassifyModule",
    "ClassifyTrainConfig",
    "build_classifier",
    "load_classifier",
    "train_classify",
    "train_view_filter",
]


@dataclass
class ClassifyTrainConfig(TRLOptions, RunConfig):
    """One classification run; defaults are the CPU scale (a 4-block, 64-wide DeiT at 32 px, 64 tokens)."""

    model: str = "deit_tiny_patch16_224"
    model_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"patch_size": 4, "embed_dim": 64, "depth": 4, "num_heads": 2}
    )
    pretrained: bool = False
    image_size: int = 32
    train_view_set: str = "canonical"  # canonical | fib50 (with train_min_elevation: 0 -> its upper half)
    train_min_elevation: float | None = None
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    warmup_epochs: int = 1
    epochs: int = 10
    batch_size: int = 64
    crop_scale: float = 0.6
    hflip: bool = True  # a mirrored object is still its category
    curve_points: int = 6  # learning curve: val-object top-1 on the training views and on fib50 (0: none)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be adamw or sgd, got {self.optimizer!r}")
        if not 0 < self.crop_scale <= 1:
            raise ValueError(f"crop_scale must be in (0, 1], got {self.crop_scale}")


def build_classifier(cfg: ClassifyTrainConfig, num_classes: int) -> torch.nn.Module:
    """The timm model of a config (any size via ``model_kwargs``), with 3DTRL inserted if asked."""
    return create_timm_encoder(cfg.model, num_classes, cfg.pretrained, cfg.image_size, cfg.model_kwargs, cfg.trl3d,
                               cfg.trl_position, cfg.trl_rz_convention)  # fmt: skip


def train_view_filter(cfg: ClassifyTrainConfig):
    """The row predicate of the training view range (None: all rows of ``train_view_set``)."""
    if cfg.train_min_elevation is None:
        return None
    lo = cfg.train_min_elevation
    return lambda r: r.elevation_deg is not None and r.elevation_deg > lo


def classification_loader(data: str | Path, cfg: ClassifyTrainConfig) -> tuple[DataLoader, list[str]]:
    """Training batches and class names: a built multi-view dataset (in-domain categories, train split,
    the configured view range) or a torchvision ImageFolder's ``train`` folder."""
    from torchvision import datasets
    from torchvision.transforms import v2

    from vantage.data import EpochSampler, MultiViewDataset, load_card

    data = Path(data)
    augment = v2.Compose(
        [
            v2.ToImage(),
            v2.RandomResizedCrop((cfg.image_size, cfg.image_size), scale=(cfg.crop_scale, 1.0), antialias=True),
            v2.RandomHorizontalFlip(0.5 if cfg.hflip else 0.0),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    if (data / "dataset.json").is_file():
        classes = list(load_card(data).get("categories", {}).get("in", []))
        base = MultiViewDataset(
            data, split="train", view_set=cfg.train_view_set, domain="in", transform=lambda im: im,
            where=train_view_filter(cfg),
        )  # fmt: skip
        ds = KeyedAugment(base, augment, cfg.seed, fields=("image", "label"))
    elif (data / "train").is_dir():
        base = datasets.ImageFolder(str(data / "train"))
        classes = list(base.classes)
        ds = KeyedAugment(base, augment, cfg.seed)
    else:
        raise FileNotFoundError(f"{data} is neither a built vantage dataset nor an ImageFolder with a train/ folder")
    loader = DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=EpochSampler(len(ds), cfg.seed, True),
        drop_last=len(ds) > cfg.batch_size,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
    )
    return loader, classes


class ClassifyModule(ResumableRNG, L.LightningModule):
    """A timm classifier (optionally with 3DTRL) trained with label-smoothed cross-entropy."""

    def __init__(self, cfg: ClassifyTrainConfig, classes: list[str]) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": vars(cfg), "classes": classes})
        self.cfg, self.classes = cfg, classes
        self.model = build_classifier(cfg, len(classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self.model(batch["image"])
        loss = F.cross_entropy(logits, batch["label"], label_smoothing=self.cfg.label_smoothing)
        acc = (logits.argmax(1) == batch["label"]).float().mean()
        check_finite(self.global_step, loss, {"cross-entropy": loss})
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        self.log("train/acc", acc, prog_bar=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        groups = decay_groups(self, cfg.weight_decay, ("pos_embed", "token", "cls_embed"))
        if cfg.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=cfg.lr)
        else:
            opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
        return {
            "optimizer": opt,
            "lr_scheduler": warmup_cosine_scheduler(opt, self.trainer, cfg.epochs, cfg.warmup_epochs),
        }


def load_classifier(path: str | Path) -> tuple[torch.nn.Module, ClassifyTrainConfig, list[str]]:
    """(model in eval mode, its config, class names) from a `vantage train classify` checkpoint."""
    hp, state = load_vantage_checkpoint(path, ("cfg", "classes"), "vantage train classify")
    fields = {**hp["cfg"], "pretrained": False}
    if "trl_rz_convention" not in fields:  # checkpoints from before the option used the standard Rz
        fields["trl_rz_convention"] = "standard"
    cfg = ClassifyTrainConfig(**fields)
    model = build_classifier(cfg, len(hp["classes"]))
    model.load_state_dict(strip_prefix(state, "model."))
    return model.eval(), cfg, list(hp["classes"])


def train_classify(
    cfg: ClassifyTrainConfig,
    data: str | Path,
    out: str | Path,
    progress: bool = True,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Train (or resume from ``<out>/checkpoints/last.ckpt``); returns the last checkpoint's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    loader, classes = classification_loader(data, cfg)
    module = ClassifyModule(cfg, classes)
    probes = classify_probes(Path(data), cfg) if cfg.curve_points else {}
    return fit_resumable(module, loader, cfg, out, progress, stop_after, overwrite=overwrite,
                         callbacks=[CurveProbe(probes, cfg.curve_points)] if probes else None)  # fmt: skip


PROBE_IMAGES = 512  # images per learning-curve probe (spread over the held-out rows)


def classify_probes(data: Path, cfg: ClassifyTrainConfig) -> dict[str, Any]:
    """Learning-curve probes on the val objects of a built dataset: top-1 on the training view range
    (``val_seen_top1``, the task itself) and on Fib(50) poses (``val_fib50_top1``); none for an ImageFolder."""
    from vantage.data import DatasetError, MultiViewDataset
    from vantage.data.transforms import to_tensor

    if not (data / "dataset.json").is_file():
        return {}
    probes = {}
    for name, view_set, where in (("val_seen_top1", cfg.train_view_set, train_view_filter(cfg)),
                                  ("val_fib50_top1", "fib50", None)):  # fmt: skip
        try:
            rows = MultiViewDataset(data, split="val", view_set=view_set, domain="in",
                                    transform=to_tensor(cfg.image_size), where=where)  # fmt: skip
        except DatasetError:
            continue  # a build without val objects in that view set: no curve for it
        if len(rows):
            idx = sorted({round(i * (len(rows) - 1) / max(1, PROBE_IMAGES - 1)) for i in range(PROBE_IMAGES)})
            items = [rows[i] for i in idx]
            images, labels = torch.stack([it["image"] for it in items]), torch.tensor([it["label"] for it in items])
            probes[name] = top1_probe(images, labels, lambda m, x: m(x), batch_size=256)
    return probes
