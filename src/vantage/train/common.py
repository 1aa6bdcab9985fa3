"""Shared training machinery: atomic checkpoints, RNG state capture for exact resume, trainer set-up."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from vantage.config import MAX_IMAGE_SIZE
from vantage.errors import VantageError
from vantage.io import WriteError, atomic_write_json, folder_lock, publish, remove_stale_temps, temp_path
from vantage.models import RZ_CONVENTIONS, TRL_MODES

__all__ = [
    "RESUME_FREE_FIELDS",
    "AtomicCheckpoint",
    "CheckpointError",
    "NonFiniteLossError",
    "ResumableRNG",
    "RunConfig",
    "TRLOptions",
    "capture_rng",
    "check_finite",
    "check_finite_weights",
    "compile_children",
    "decay_groups",
    "fit_resumable",
    "last_checkpoint",
    "load_vantage_checkpoint",
    "quiet_lightning",
    "read_checkpoint",
    "restore_rng",
    "resume_checkpoint",
    "strip_prefix",
    "train_seconds",
    "warmup_cosine_scheduler",
]

TRAIN_TIME_FILE = "train_time.json"
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536


@dataclass
class RunConfig:
    """Fields every training run has: seed, loader workers and where/how Lightning runs it (fields of
    the method configs that subclass it)."""

    seed: int = 0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"  # auto: DDP when devices > 1 (see trainer_strategy)
    precision: str = "32-true"
    compile: bool = False  # torch.compile the network for training (faster on CPU for some models: train_speed.md)

    min_epochs: ClassVar[int] = 1  # 0 where a run may only export what it loaded (a base CLIP)

    def __post_init__(self) -> None:
        """Checks every run config shares (subclasses call this from their own ``__post_init__``)."""
        size = getattr(self, "image_size", None)
        if size is not None and (type(size) is not int or not 8 <= size <= MAX_IMAGE_SIZE):
            raise ValueError(f"image_size must be an integer in 8..{MAX_IMAGE_SIZE} pixels, got {size!r}")
        limits = {"epochs": (self.min_epochs, MAX_EPOCHS), "batch_size": (1, MAX_BATCH)}
        for name, (lo, hi) in limits.items():
            value = getattr(self, name, None)
            if value is not None and not lo <= value <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
        warm = getattr(self, "warmup_epochs", None)
        if warm is not None and warm < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warm}")
        lr = getattr(self, "lr", None)
        if lr is not None and not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        points = getattr(self, "curve_points", None)
        if points is not None and (type(points) is not int or points < 0):
            raise ValueError(f"curve_points must be an integer >= 0, got {points!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")

    def trainer_strategy(self) -> str:
        """The Lightning strategy to run with: ``strategy``, except that "auto" on more than one device is DDP."""
        count = self.devices if isinstance(self.devices, int) else len(self.devices) if isinstance(
            self.devices, list | tuple) else 1  # fmt: skip
        return "ddp" if self.strategy == "auto" and count > 1 else self.strategy


@dataclass
class TRLOptions:
    """The 3DTRL fields of every training config that can insert the layer (classification, video alignment,
    action recognition); list it before ``RunConfig`` among the bases."""

    trl3d: str = "none"  # none | faithful | improved (timm ViT / DeiT / Swin / TNT, HF TimeSformer)
    trl_position: float = 1 / 3  # where the layer goes, as a fraction of the blocks
    trl_rz_convention: str | None = None  # None: the mode's default (faithful: the reference code's Rz)

    def __post_init__(self) -> None:
        super().__post_init__()  # RunConfig's checks
        if self.trl3d not in ("none", *TRL_MODES):
            raise ValueError(f"trl3d must be none, faithful or improved, got {self.trl3d!r}")
        if self.trl_rz_convention not in (None, *RZ_CONVENTIONS):
            raise ValueError(f"trl_rz_convention must be one of {RZ_CONVENTIONS}, got {self.trl_rz_convention!r}")


class NonFiniteLossError(VantageError, RuntimeError):
    """Training produced a NaN or infinite loss; the message names the step and the term."""


class CheckpointError(VantageError, ValueError):
    """A checkpoint that cannot be used: corrupt, of another command, non-finite, or of another config."""


def check_finite(step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
    """Stop training at the first non-finite loss, naming the step and the first non-finite term."""
    if bool(torch.isfinite(loss).all()):
        return
    bad = next((k for k, v in terms.items() if not bool(torch.isfinite(v).all())), "total loss")
    values = ", ".join(f"{k}={float(v.detach().float().mean()):.4g}" for k, v in terms.items())
    raise NonFiniteLossError(
        f"non-finite loss at step {step}: {bad} ({values}); lower the learning rate or check the data"
    )


def check_finite_weights(state: dict[str, Any], where: str) -> None:
    """Refuse a state dict with NaN or infinite values (e.g. from a diverged run), naming the first tensor."""
    for k, v in state.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{where}: weights are not finite (first: {k}); the run diverged")


class AtomicCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes to a temp file, fsyncs and renames it, so a kill never leaves a torn
    checkpoint; a failed write (disk full) removes the temp file and names the path. Files are overwritten in
    place (no ``-v1`` copies), so a resumed or moved run keeps one ``last.ckpt``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enable_version_counter=False, **kwargs)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        tmp = temp_path(filepath) if trainer.is_global_zero else Path(f"{filepath}.rank{trainer.global_rank}")
        try:
            trainer.save_checkpoint(tmp, self.save_weights_only)
            if trainer.is_global_zero:
                publish(tmp, filepath)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise WriteError(e.errno, f"could not write checkpoint {filepath}: {e.strerror} (temp removed)") from e
        trainer.strategy.barrier("atomic_checkpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath


def capture_rng() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (when CUDA is initialised) per-device CUDA RNG states as tensors and plain
    lists (loadable with ``weights_only=True``), stored in checkpoints so that a resumed run draws the same
    random numbers as an uninterrupted one."""
    version, py_state, gauss = random.getstate()
    key, np_state, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(py_state), gauss],
        "numpy": [key, torch.from_numpy(np_state.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    key, np_state, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((key, np_state.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def last_checkpoint(out: str | Path) -> Path | None:
    """``<out>/checkpoints/last.ckpt`` if a previous run left one."""
    path = Path(out) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def decay_groups(module: torch.nn.Module, weight_decay: float, no_decay_names: tuple[str, ...] = ()) -> list[dict]:
    """Optimizer parameter groups: weight decay on weights, none on norms, biases and names containing any of
    ``no_decay_names`` (e.g. position embeddings and tokens)."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        skip = p.ndim <= 1 or name.endswith(".bias") or any(n in name for n in no_decay_names)
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer, trainer: Any, epochs: int, warmup_epochs: int
) -> dict[str, Any]:
    """Per-step linear warm-up then cosine decay over ``epochs`` (the whole planned run, even when a
    ``stop_after`` invocation trains fewer), as a Lightning ``lr_scheduler`` entry."""
    per_epoch = trainer.estimated_stepping_batches / max(1, trainer.max_epochs)
    total = max(1, round(per_epoch * epochs))
    warm = min(total - 1, int(total * warmup_epochs / epochs)) if warmup_epochs else 0

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), "interval": "step"}


class ResumableRNG:
    """Lightning module mix-in: RNG states travel in checkpoints, so a resumed run draws what an
    uninterrupted one would."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vantage_rng"] = capture_rng()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "vantage_rng" in checkpoint:
            restore_rng(checkpoint["vantage_rng"])


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint loaded safely (``weights_only=True``: no code runs); clear errors for a folder,
    a missing file, or a truncated / foreign / unsafe file."""
    path = Path(path)
    if path.is_dir():
        hint = path / "checkpoints" / "last.ckpt"
        extra = f" (did you mean {hint}?)" if hint.is_file() else ""
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file{extra}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, or unsafe pickle
        raise CheckpointError(f"checkpoint {path} is corrupt or not a torch checkpoint ({type(e).__name__})") from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} is not a Lightning checkpoint (a {type(ckpt).__name__})")
    return ckpt


def load_vantage_checkpoint(path: str | Path, needs: tuple[str, ...], command: str) -> tuple[dict, dict]:
    """(hyper_parameters, state_dict) of a vantage Lightning checkpoint; a clear error when it is not one of
    ``command``'s, or when its weights are not finite."""
    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters", {})
    if any(k not in hp for k in needs) or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} is not a `{command}` checkpoint (no hyper_parameters {list(needs)} / state_dict)"
        )
    check_finite_weights(ckpt["state_dict"], str(path))
    return hp, ckpt["state_dict"]


# Fields that may change between a run and its resume without changing its result.
# base: the tuned weights are in the checkpoint; curve_points logs only; compile changes only float rounding
RESUME_FREE_FIELDS = ("accelerator", "num_workers", "strategy", "base", "curve_points", "compile")


def _device_count(devices: Any) -> Any:
    """How many devices a ``devices`` value trains on (which GPUs they are does not change the result)."""
    return len(devices) if isinstance(devices, list | tuple) else devices


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted((set(old) | set(new)) - set(RESUME_FREE_FIELDS))
    same = {"devices": lambda a, b: _device_count(a) == _device_count(b)}
    return [k for k in keys if not same.get(k, lambda a, b: a == b)(old.get(k), new.get(k))]


def _newest_intact(folder: Path) -> Path | None:
    for p in sorted(folder.glob("epoch*.ckpt"), reverse=True):
        try:
            read_checkpoint(p)
            return p
        except (CheckpointError, FileNotFoundError):
            continue
    return None


def resume_checkpoint(out: Path, cfg: Any, overwrite: bool = False) -> Path | None:
    """The checkpoint to resume ``out`` from, after checking it. A corrupt ``last.ckpt`` is refused (naming the
    newest intact ``epochNNN.ckpt``) and one trained with another config is refused naming the fields that
    differ, unless ``overwrite``: then that run's checkpoints are discarded and training starts anew (a run
    with the same config and an intact checkpoint is resumed either way)."""
    last = last_checkpoint(out)
    if last is None:
        return None
    try:
        ckpt = read_checkpoint(last)
    except CheckpointError as e:
        if overwrite:
            return _discard(out)
        intact = _newest_intact(out / "checkpoints")
        hint = (f"the newest intact one is {intact}: copy it over last.ckpt to resume from it" if intact
                else "no intact epoch checkpoint is left")  # fmt: skip
        raise CheckpointError(f"{e}; {hint}, or pass --overwrite to start again") from None
    old = ckpt.get("hyper_parameters", {}).get("cfg")
    changed = _changed_fields(old, dict(vars(cfg))) if isinstance(old, dict) else []
    if changed and overwrite:
        return _discard(out)
    if changed:
        diffs = "; ".join(f"{k}: {old.get(k)!r} -> {getattr(cfg, k, None)!r}" for k in changed[:6])
        raise CheckpointError(
            f"{out} holds a run with another config ({diffs}); use another --out, or pass --overwrite to discard "
            "it and train anew"
        )
    return last


def _discard(out: Path) -> None:
    shutil.rmtree(out / "checkpoints")
    (out / TRAIN_TIME_FILE).unlink(missing_ok=True)


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of ``state`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


class TrainClock(Callback):
    """Wall time spent in training epochs (epoch-start work such as OVT's mining included), carried in
    checkpoints so that a resumed run counts its earlier epochs and a finished one keeps its total."""

    def __init__(self) -> None:
        self.seconds, self._start = 0.0, None

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:  # runs before the checkpoint is saved
        if self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self._start = None

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds = float(state_dict.get("seconds", 0.0))


def train_seconds(out: str | Path) -> float:
    """Wall seconds the run in ``out`` spent training, summed over its resumes (0 if it never trained)."""
    path = Path(out) / TRAIN_TIME_FILE
    if not path.is_file():
        return 0.0
    try:
        return float(json.loads(path.read_text())["seconds"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f'{path} is corrupt: expected {{"seconds": <number>}} ({type(e).__name__}: {e})') from e


def quiet_lightning() -> None:
    """Silence Lightning's start-up banners and tips (device summary, "litlogger" tips, checkpoint notes) and
    its deprecation warnings, for runs without a progress bar (``-q``); warnings about the run itself stay."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings(
        "ignore", message=r".*(LeafSpec|litlogger|does not have many workers|exists and is not empty).*"
    )
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"lightning\..*")


def compile_children(module: Any) -> None:
    """``torch.compile`` each network of a LightningModule in place (its state dict keeps its keys, so checkpoints
    and resumes are unchanged); a model dynamo cannot compile runs eager (dynamo's errors are suppressed)."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    for child in module.children():
        if any(p.requires_grad for p in child.parameters()):
            child.compile()
    print("[vantage] torch.compile on: the first steps include compilation", file=sys.stderr, flush=True)


def fit_resumable(
    module: Any,
    loader: Any,
    cfg: Any,
    out: Path,
    progress: bool = True,
    stop_after: int | None = None,
    tensorboard: bool = False,
    keep_every_epoch: bool = False,
    overwrite: bool = False,
    callbacks: list[Any] | None = None,
) -> Path:
    """Fit ``module`` on ``loader`` with atomic per-epoch checkpoints under ``out/checkpoints``, resuming from
    ``last.ckpt`` if present (see :func:`resume_checkpoint`; ``overwrite`` starts anew). ``cfg`` supplies
    epochs, accelerator, devices, strategy and precision. CSV logs (and TensorBoard on request); the training
    wall time, resumes included, in ``out/train_time.json``. Returns the last checkpoint's path.

    The run folder is locked for the whole run (a second run into it is refused at once); an interrupted run
    (Ctrl-C, SIGTERM) raises KeyboardInterrupt after Lightning's clean shutdown, and a run that ends before
    its first checkpoint leaves no log folders behind. ``callbacks`` run beside the checkpointing (e.g. a
    :class:`~vantage.train.probe.CurveProbe`)."""
    out = Path(out)
    primary = os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"
    fresh = not (out / "checkpoints").is_dir()
    try:
        with folder_lock(out, "training run") if primary else contextlib.nullcontext():
            return _fit(module, loader, cfg, out, progress, stop_after, tensorboard, keep_every_epoch, overwrite,
                        callbacks or [])
    except BaseException:
        if primary and fresh and not (out / "checkpoints").is_dir():
            for stub in ("logs", "tb"):
                shutil.rmtree(out / stub, ignore_errors=True)
        raise


def _fit(module: Any, loader: Any, cfg: Any, out: Path, progress: bool, stop_after: int | None, tensorboard: bool,
         keep_every_epoch: bool, overwrite: bool, callbacks: list[Any]) -> Path:  # fmt: skip
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    if not progress:
        quiet_lightning()
    if getattr(cfg, "compile", False):
        compile_children(module)
    resume = resume_checkpoint(out, cfg, overwrite)
    if resume is not None and os.environ.get("LOCAL_RANK", "0") == "0":
        print(f"[vantage] resuming from {resume}", file=sys.stderr, flush=True)
    if (out / "checkpoints").is_dir():
        remove_stale_temps(out / "checkpoints")  # temp files of a writer that was killed
    ckpt = AtomicCheckpoint(
        dirpath=out / "checkpoints",
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=-1 if keep_every_epoch else 1,
        every_n_epochs=1,
    )
    loggers = [CSVLogger(out, name="logs")] + ([TensorBoardLogger(out, name="tb")] if tensorboard else [])
    per_device = len(loader) // (cfg.devices if isinstance(cfg.devices, int) else 1)
    trainer = L.Trainer(
        max_epochs=cfg.epochs if stop_after is None else min(cfg.epochs, stop_after),
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.trainer_strategy(),
        precision=cfg.precision,
        default_root_dir=out,
        callbacks=[clock := TrainClock(), ckpt, *callbacks],
        enable_progress_bar=progress,
        logger=loggers,
        log_every_n_steps=max(1, min(10, per_device)),
        enable_model_summary=False,
        use_distributed_sampler=False,  # EpochSampler shards by rank itself
    )
    try:
        trainer.fit(module, loader, ckpt_path=resume, weights_only=True)
    except SystemExit:  # Lightning ends a run it saw interrupted with sys.exit(1)
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    if trainer.interrupted:
        raise KeyboardInterrupt
    if trainer.is_global_zero:
        atomic_write_json(out / TRAIN_TIME_FILE, {"seconds": round(clock.seconds, 2)})
    return out / "checkpoints" / "last.ckpt"
