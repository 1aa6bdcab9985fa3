"""CLIP training through open_clip: a base CLIP from scratch (`vantage train clip`) and Omniview-Tuning
(`vantage train ovt`): LoRA + VIFormer, a minimax loop (the max step mines each object's centre and outlier
views; the min step is image-text contrastive loss on batches that mix multi-view and clean pairs, plus lambda x
the cross-viewpoint alignment of the mined outliers to their centres).

Data: a built vantage dataset (multi-view rows of the train split; the clean rows are its ``canonical`` views),
or MVCap-format ``metadata.json`` files. Checkpoints are atomic; re-running resumes from ``last.ckpt``; batches
and augmentation are keyed on (seed, epoch, index). The tuned model is exported to ``<out>/model`` in
open_clip's format (see :mod:`vantage.models.clip`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vantage.data.sampling import KeyedAugment, rank_world
from vantage.losses.cross_view import EMACentres, cross_view_loss, mine_outlier_views
from vantage.models.clip import (
    OVTModel,
    VIFormer,
    VIFormerConfig,
    add_visual_lora,
    create_clip,
    get_clip_tokenizer,
    save_clip,
)
from vantage.train.common import (
    ResumableRNG,
    RunConfig,
    check_finite,
    decay_groups,
    fit_resumable,
    warmup_cosine_scheduler,
)

__all__ = [
    "CLIP_VARIANTS",
    "ClipTrainConfig",
    "ClipTuneModule",
    "MixedBatchSampler",
    "OVTTrainConfig",
    "build_ovt_model",
    "clip_pair_rows",
    "train_clip",
    "train_ovt",
]

CLIP_VARIANTS = ("scratch", "faithful", "improved", "lora_only", "full_ft")
_MAX_LOGIT_SCALE = math.log(100.0)


@dataclass
class ClipTrainConfig(RunConfig):
    """A base CLIP trained from scratch (or further from ``pretrained``) on image-caption pairs; defaults are the
    CPU scale: ``vantage-clip-tiny`` at 32 px on the near-front ``canonical`` views."""

    min_epochs: ClassVar[int] = 0  # 0: export the model as loaded (a pretrained CLIP used as the base as it is)

    model: str = "vantage-clip-tiny"
    pretrained: str | None = None
    image_size: int | None = 32
    view_set: str = "canonical"
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_epochs: int = 1
    crop_scale: float = 0.7
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2, got {self.batch_size}")
        if not 0 < self.crop_scale <= 1:
            raise ValueError(f"crop_scale must be in (0, 1], got {self.crop_scale}")


@dataclass
class OVTTrainConfig(RunConfig):
    """Omniview-Tuning of a CLIP (``base``: open_clip name with ``pretrained``, vantage config, or saved
    folder). ``variant``: faithful (LoRA on visual qkv r=8 alpha=8 + the paper's VIFormer + new logit scale),
    improved (token-attending, identity-at-init VIFormer; clamped logit scale; no decay on norms/biases;
    warm-up), lora_only (no VIFormer), full_ft (every CLIP weight trained, no LoRA/VIFormer)."""

    base: str = "vantage-clip-tiny"
    pretrained: str | None = None
    image_size: int | None = None
    variant: str = "faithful"
    lora_r: int = 8
    lora_alpha: float = 8.0
    viformer: dict[str, Any] = field(default_factory=dict)  # VIFormerConfig fields (mode follows the variant)
    mv_view_set: str = "fib50"
    clean_view_set: str = "canonical"
    epochs: int = 3
    batch_size: int = 96  # multi-view pairs per batch
    clean_batch_size: int = 48  # clean pairs per batch (the paper: 512 + 256)
    views_per_object: int = 0  # > 0: object-aware batches of this many views per object
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: int = 0
    grad_clip: float = 1.0
    lambda_vc: float = 1.0
    margin: float = 0.3
    k_nn: int = 5
    n_outliers: int = 5
    weighting: str = "density"  # density (paper) | inverse (reference code) | uniform
    mining: str = "epoch"  # epoch: full max step per epoch | ema: online EMA centres, in-batch outliers
    ema_momentum: float = 0.9
    augment: str = "rotate_affine"  # the reference's RandomRotation(90) + RandomAffine(translate 0.1) | crop | none
    mining_batch_size: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in CLIP_VARIANTS[1:]:
            raise ValueError(f"variant must be one of {CLIP_VARIANTS[1:]}, got {self.variant!r}")
        if self.mining not in ("epoch", "ema"):
            raise ValueError(f"mining must be epoch or ema, got {self.mining!r}")
        if self.augment not in ("rotate_affine", "crop", "none"):
            raise ValueError(f"augment must be rotate_affine, crop or none, got {self.augment!r}")
        if self.weighting not in ("density", "inverse", "uniform"):
            raise ValueError(f"weighting must be density, inverse or uniform, got {self.weighting!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.clean_batch_size < 0 or self.lambda_vc < 0:
            raise ValueError("epochs, batch_size >= 1; clean_batch_size, lambda_vc >= 0")
        if self.views_per_object and (self.views_per_object < 2 or self.batch_size % self.views_per_object):
            raise ValueError(f"views_per_object={self.views_per_object} must be >= 2 and divide batch_size")
        VIFormerConfig(**{**self.viformer, "mode": self.viformer_mode})  # names a bad field now

    @property
    def viformer_mode(self) -> str:
        return "improved" if self.variant == "improved" else "faithful"


def clip_pair_rows(data: str | Path, view_set: str, split: str = "train") -> list[Any]:
    """MVCap rows for training: from a built dataset (its in-domain ``split`` rows of ``view_set``, with the
    category-guided captions) or from an MVCap ``metadata.json`` / folder (``view_set`` ignored)."""
    from vantage.data.captions import MVCapRow, read_mvcap
    from vantage.data.read import filter_records
    from vantage.data.schema import DatasetError, load_records

    data = Path(data)
    if not (data / "dataset.json").is_file():
        return read_mvcap(data)
    rows = filter_records(load_records(data), split=split, view_set=view_set, domain="in")
    if not rows:
        raise DatasetError(f"no in-domain {split} rows of view set {view_set!r} in {data}")
    return [
        MVCapRow(data / r.file_name, r.caption or r.category, r.object_id, f"{r.view_set}-{r.view_id}", r.category)
        for r in rows
    ]


def _augmentation(kind: str, size: int, crop_scale: float = 0.7) -> Any:
    from torchvision.transforms import v2

    ops: list[Any] = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]  # resize in float, as eval banks do
    if kind == "rotate_affine":
        ops += [v2.RandomRotation(90), v2.RandomAffine(degrees=0, translate=(0.1, 0.1))]
    if kind == "crop":
        ops += [v2.RandomResizedCrop((size, size), scale=(crop_scale, 1.0), antialias=True)]
    else:
        ops += [v2.Resize((size, size), antialias=True)]
    return v2.Compose([*ops, _clip_normalize()])


def _clip_normalize() -> Any:
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from torchvision.transforms import v2

    return v2.Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)


class _KeyedPairs(KeyedAugment):
    """Multi-view rows then clean rows; ``(epoch, index)`` keys seed each item's augmentation."""

    def __init__(self, mv: list[Any], clean: list[Any], objects: list[str], augment: Any, seed: int) -> None:
        from vantage.data.read import CaptionPairDataset

        super().__init__(CaptionPairDataset(mv + clean, transform=lambda im: im, objects=objects), augment, seed)
        self.n_mv = len(mv)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        item = super().__getitem__(key)
        item["multiview"] = key[1] < self.n_mv
        return item


class MixedBatchSampler(Sampler):
    """Batches of ``mv_per_batch`` multi-view indices (``0..n_mv-1``) and ``clean_per_batch`` clean indices
    (``n_mv..n_mv+n_clean-1``), yielded as ``(epoch, index)`` keys, drawn from a generator seeded by (seed,
    epoch). With ``views_per_object`` the multi-view part is object-aware: that many views of each of
    ``mv_per_batch / views_per_object`` objects. One epoch covers the multi-view rows once; under
    torch.distributed each rank takes every world-th batch."""

    def __init__(
        self,
        mv_objects: list[int],
        n_clean: int,
        mv_per_batch: int,
        clean_per_batch: int,
        seed: int = 0,
        views_per_object: int = 0,
    ) -> None:
        self.mv_objects = np.asarray(mv_objects)
        self.n_mv, self.n_clean = len(mv_objects), n_clean
        self.mv_per_batch, self.clean_per_batch = min(mv_per_batch, self.n_mv), clean_per_batch if n_clean else 0
        self.seed, self.views_per_object, self.epoch = seed, views_per_object, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def _mv_batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        if not self.views_per_object:
            order = rng.permutation(self.n_mv)
            n = self.n_mv // self.mv_per_batch
            return [order[i * self.mv_per_batch : (i + 1) * self.mv_per_batch] for i in range(n)]
        v = self.views_per_object
        per_obj = {o: rng.permutation(np.flatnonzero(self.mv_objects == o)) for o in np.unique(self.mv_objects)}
        groups = [rows[i : i + v] for rows in per_obj.values() for i in range(0, len(rows) - v + 1, v)]
        groups = [groups[i] for i in rng.permutation(len(groups))]
        k = self.mv_per_batch // v
        return [np.concatenate(groups[i : i + k]) for i in range(0, len(groups) - k + 1, k)]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = self._mv_batches(rng)
        rank, world = rank_world()
        for b, mv in enumerate(batches[: len(self) * world]):
            if b % world != rank:
                continue
            clean = self.n_mv + rng.choice(self.n_clean, self.clean_per_batch, replace=False) \
                if self.clean_per_batch else np.zeros(0, dtype=int)  # fmt: skip
            yield [(self.epoch, int(i)) for i in np.concatenate([mv, clean])]

    def __len__(self) -> int:
        if self.views_per_object:
            per_obj = np.bincount(self.mv_objects) // self.views_per_object
            n = int(per_obj.sum()) // (self.mv_per_batch // self.views_per_object)
        else:
            n = self.n_mv // self.mv_per_batch
        return max(1, n // rank_world()[1])


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "image": torch.stack([it["image"] for it in items]),
        "caption": [it["caption"] for it in items],
        "object": torch.tensor([it["object"] for it in items]),
        "index": torch.tensor([it["index"] for it in items]),
        "multiview": torch.tensor([it["multiview"] for it in items]),
    }


def build_ovt_model(cfg: OVTTrainConfig) -> tuple[OVTModel, dict[str, Any]]:
    """The model to tune, with exactly the variant's parameters trainable (everything else frozen)."""
    clip, model_cfg = create_clip(cfg.base, pretrained=cfg.pretrained, image_size=cfg.image_size)
    viformer = None
    if cfg.variant in ("faithful", "improved"):
        viformer = VIFormer(model_cfg["embed_dim"], VIFormerConfig(**{**cfg.viformer, "mode": cfg.viformer_mode}))
    if cfg.variant == "full_ft":
        for p in clip.parameters():
            p.requires_grad_(True)
    else:
        add_visual_lora(clip, r=cfg.lora_r, alpha=cfg.lora_alpha)
    model = OVTModel(clip, viformer)
    if cfg.variant == "full_ft":  # the new scale replaces CLIP's; CLIP's own stays out of the loss
        clip.logit_scale.requires_grad_(False)
    return model, model_cfg


class ClipTuneModule(ResumableRNG, L.LightningModule):
    """Image-text contrastive training of an :class:`OVTModel`, with the cross-view alignment term when
    ``lambda_vc > 0``. The max step runs at the start of each epoch (or per batch with EMA centres)."""

    def __init__(self, cfg: OVTTrainConfig | ClipTrainConfig, kind: str, objects: list[str],
                 mining_rows: list[Any] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.save_hyperparameters({"cfg": vars(cfg), "kind": kind, "objects": objects})
        self.cfg, self.kind, self.objects = cfg, kind, objects
        if kind == "ovt":
            self.model, self.model_cfg = build_ovt_model(cfg)
            name = cfg.base
        else:
            clip, self.model_cfg = create_clip(cfg.model, pretrained=cfg.pretrained, image_size=cfg.image_size)
            for p in clip.parameters():
                p.requires_grad_(True)
            clip.logit_scale.requires_grad_(False)
            self.model = OVTModel(clip, None)
            name = cfg.model
        self.model.train()
        self.tokenizer = get_clip_tokenizer(name)
        self.mining_rows = mining_rows or []
        self.aligns = kind == "ovt" and cfg.lambda_vc > 0
        dim = self.model_cfg["embed_dim"]
        self.register_buffer("centres", torch.zeros(len(objects), dim))
        self.register_buffer("outlier", torch.zeros(len(self.mining_rows), dtype=torch.bool))
        self.ema = EMACentres(len(objects), dim, cfg.ema_momentum) if self.aligns and cfg.mining == "ema" else None

    def _scale(self) -> torch.Tensor:
        s = self.model.logit_scale
        clamp = self.kind != "ovt" or self.cfg.variant != "faithful"  # the paper leaves its new scale unclamped
        return (s.clamp(max=_MAX_LOGIT_SCALE) if clamp else s).exp()

    @torch.no_grad()
    def mine(self) -> None:
        """The max step: embed every multi-view row unaugmented (eval mode) and mine centres and outliers."""
        if not self.mining_rows:
            return
        from vantage.data.read import CaptionPairDataset

        size = self.model_cfg["vision_cfg"]["image_size"]
        ds = CaptionPairDataset(self.mining_rows, transform=_augmentation("none", size), objects=self.objects)
        loader = DataLoader(ds, batch_size=self.cfg.mining_batch_size, num_workers=self.cfg.num_workers)
        was_training = self.model.training
        self.model.eval()
        z, obj = [], []
        for batch in loader:
            z.append(self.model.encode_image(batch["image"].to(self.device)).float().cpu())
            obj.append(batch["object"])
        self.model.train(was_training)
        mined = mine_outlier_views(torch.cat(z), torch.cat(obj), self.cfg.k_nn, self.cfg.n_outliers, self.cfg.weighting)
        self.centres.copy_(mined.centres.to(self.device))
        self.outlier.copy_(mined.outlier.to(self.device))
        if self.ema is not None:
            self.ema.centres.copy_(self.centres)
            self.ema.seen.fill_(True)

    def on_train_epoch_start(self) -> None:
        if self.aligns and (self.cfg.mining == "epoch" or self.current_epoch == 0):
            self.mine()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        from open_clip.loss import ClipLoss

        tokens = self.tokenizer(batch["caption"]).to(self.device)
        img = self.model.encode_image(batch["image"])
        txt = self.model.encode_text(tokens)
        scale = self._scale()
        loss_itc = ClipLoss()(img, txt, scale)
        loss, terms = loss_itc, {"contrastive (ITC) loss": loss_itc}
        if self.aligns:
            mv = batch["multiview"]
            z, obj = img[mv], batch["object"][mv]
            if self.ema is not None:
                self.ema.update(z, obj)
                select, centres = self.ema.outliers(z, obj, self.cfg.n_outliers), self.ema.centres[obj]
            else:
                select, centres = self.outlier[batch["index"][mv]], self.centres[obj]
            loss_vc = cross_view_loss(z, centres, select, self.cfg.margin)
            loss = loss + self.cfg.lambda_vc * loss_vc
            terms["cross-view loss"] = loss_vc
            self.log("train/loss_vc", loss_vc, prog_bar=True, sync_dist=True)
            self.log("train/outliers", select.float().sum(), sync_dist=True)
        with torch.no_grad():
            acc = ((img @ txt.T).argmax(1) == torch.arange(len(img), device=img.device)).float().mean()
        check_finite(self.global_step, loss, terms)
        self.log("train/loss_itc", loss_itc, prog_bar=True, sync_dist=True)
        self.log("train/i2t_acc", acc, sync_dist=True)
        self.log("train/logit_scale", scale, sync_dist=True)
        return loss

    def configure_optimizers(self):
        cfg = self.cfg
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        faithful = self.kind == "ovt" and cfg.variant == "faithful"
        if faithful:  # the reference: decay on every trainable parameter
            groups = [{"params": [p for _, p in params], "weight_decay": cfg.weight_decay}]
        else:
            groups = decay_groups(self, cfg.weight_decay, ("positional_embedding", "class_embedding", "logit_scale"))
            groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
        betas = (0.9, 0.98)
        opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=betas, eps=1e-6)
        return {
            "optimizer": opt,
            "lr_scheduler": warmup_cosine_scheduler(opt, self.trainer, cfg.epochs, cfg.warmup_epochs),
        }

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        if self.cfg.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.cfg.grad_clip, gradient_clip_algorithm="norm")


def _fit_and_export(module: ClipTuneModule, loader: DataLoader, cfg: Any, out: Path, progress: bool,
                    stop_after: int | None, overwrite: bool = False) -> Path:  # fmt: skip
    ckpt = fit_resumable(module, loader, cfg, out, progress, stop_after, overwrite=overwrite)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    return save_clip(module.model.eval(), module.model_cfg, out / "model")


def train_clip(
    cfg: ClipTrainConfig,
    data: str | Path,
    out: str | Path,
    progress: bool = True,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Train a base CLIP on a dataset's ``view_set`` pairs (or an MVCap file); resumes from ``last.ckpt``.
    Returns the exported open_clip folder ``<out>/model``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    rows = clip_pair_rows(data, cfg.view_set)
    objects = sorted({r.obj_id for r in rows})
    module = ClipTuneModule(cfg, "scratch", objects)
    if cfg.epochs == 0:  # e.g. a pretrained CLIP used as the base as it is
        return save_clip(module.model.eval(), module.model_cfg, out / "model")
    size = module.model_cfg["vision_cfg"]["image_size"]
    ds = _KeyedPairs(rows, [], objects, _augmentation("crop", size, cfg.crop_scale), cfg.seed)
    sampler = MixedBatchSampler([ds.base.object_to_idx[r.obj_id] for r in rows], 0, cfg.batch_size, 0, cfg.seed)
    loader = _loader(ds, sampler, cfg.num_workers)
    return _fit_and_export(module, loader, cfg, out, progress, stop_after, overwrite)


def _loader(ds: Dataset, sampler: Sampler, workers: int) -> DataLoader:
    return DataLoader(ds, batch_sampler=sampler, collate_fn=_collate, num_workers=workers,
                      persistent_workers=workers > 0)  # fmt: skip


def train_ovt(
    cfg: OVTTrainConfig,
    data: str | Path,
    out: str | Path,
    clean: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Omniview-Tune ``cfg.base`` on multi-view pairs (a built dataset's ``mv_view_set`` train rows, or an MVCap
    file) mixed with clean pairs (``clean``: an MVCap file; default the dataset's ``clean_view_set`` rows).
    Resumes from ``last.ckpt``. Returns the exported folder ``<out>/model``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    mv = clip_pair_rows(data, cfg.mv_view_set)
    if clean is not None:
        clean_rows = clip_pair_rows(clean, cfg.clean_view_set)
    elif (Path(data) / "dataset.json").is_file() and cfg.clean_batch_size:
        clean_rows = clip_pair_rows(data, cfg.clean_view_set)
    else:
        clean_rows = []
    objects = sorted({r.obj_id for r in mv + clean_rows})
    module = ClipTuneModule(cfg, "ovt", objects, mining_rows=mv)
    size = module.model_cfg["vision_cfg"]["image_size"]
    ds = _KeyedPairs(mv, clean_rows, objects, _augmentation(cfg.augment, size), cfg.seed)
    mv_objects = [ds.base.object_to_idx[r.obj_id] for r in mv]
    sampler = MixedBatchSampler(mv_objects, len(clean_rows), cfg.batch_size, cfg.clean_batch_size, cfg.seed,
                                cfg.views_per_object)  # fmt: skip
    return _fit_and_export(module, _loader(ds, sampler, cfg.num_workers), cfg, out, progress, stop_after, overwrite)
