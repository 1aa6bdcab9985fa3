"""Pretraining at home: vantage-made encoder weights, for starts where no ImageNet / Kinetics weights can be had.

A ``pretrained: vantage:<recipe>`` start names a recipe in :data:`HOME_RECIPES`: the consumer's own timm ViT
architecture (model, ``model_kwargs``, image size) trained by supervised object classification on the rendered
multi-view image zoo (a preset's ``data`` section, the train objects' Fib(50) views). The weights are built
once per (recipe, architecture) and cached under ``$VANTAGE_HOME/pretrained/<recipe>-<hash>/encoder.pt``; the
build is an ordinary resumable `train classify` run in that folder (locked, atomic), so an interrupted build
resumes. A TimeSformer starts from such a ViT through :func:`vantage.models.timesformer_from_vit`.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from vantage.config import config_hash
from vantage.errors import VantageError
from vantage.io import atomic_write_bytes, atomic_write_json, folder_lock, vantage_home

__all__ = [
    "HOME_PREFIX",
    "HOME_RECIPES",
    "HomeRecipe",
    "check_home_spec",
    "fold_input_norm",
    "home_encoder_state",
    "is_home_spec",
    "load_home_encoder",
]

HOME_PREFIX = "vantage:"
ENCODER_FILE = "encoder.pt"
LOADER_WORKERS = 2  # PNG decoding is most of a small model's step; keyed sampling makes the result independent of it


@dataclass(frozen=True)
class HomeRecipe:
    """How a vantage-made encoder is pretrained: object classification on a preset's rendered zoo."""

    data: str = "default"  # a preset whose `data` section is the zoo (built and cached), or a built folder
    view_set: str = "fib50"  # the train objects' views it learns from (the whole sphere)
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0


HOME_RECIPES: dict[str, HomeRecipe] = {
    "zoo": HomeRecipe(),
    "zoo-quick": HomeRecipe(data="quick", epochs=2),  # for the quick preset and tests: small and fast
}


class HomePretrainError(VantageError, ValueError):
    """A ``vantage:<recipe>`` start that names no recipe or does not fit the model."""


def is_home_spec(spec: Any) -> bool:
    """True for a ``vantage:<recipe>`` start."""
    return isinstance(spec, str) and spec.startswith(HOME_PREFIX)


def check_home_spec(spec: Any) -> None:
    """One clear error for a ``vantage:<recipe>`` start naming no recipe (configs call it before any work)."""
    if is_home_spec(spec):
        _recipe(spec)


def _recipe(spec: str) -> tuple[str, HomeRecipe]:
    name = spec[len(HOME_PREFIX) :]
    if name not in HOME_RECIPES:
        raise HomePretrainError(f"unknown home pretraining {spec!r}; choose from "
                                f"{[HOME_PREFIX + k for k in HOME_RECIPES]}")  # fmt: skip
    return name, HOME_RECIPES[name]


def home_encoder_state(spec: str, model: str, model_kwargs: dict[str, Any], image_size: int,
                       progress: bool = True) -> dict[str, torch.Tensor]:  # fmt: skip
    """The encoder weights (timm names, no classifier) that ``spec`` gives the timm ``model`` built with
    ``model_kwargs`` at ``image_size``; pretrained here on first use, read from the cache afterwards."""
    name, recipe = _recipe(spec)
    arch = {"model": model, "model_kwargs": dict(model_kwargs), "image_size": image_size}
    key = config_hash({"recipe": asdict(recipe), "arch": arch, "version": 1})
    folder = vantage_home() / "pretrained" / f"{name}-{key[:12]}"
    path = folder / ENCODER_FILE
    if not path.is_file():
        with folder_lock(folder, "home pretraining"):
            if not path.is_file():
                print(f"pretraining {spec} for {model} {dict(model_kwargs)} at {image_size} px (once; cached in "
                      f"{folder})", file=sys.stderr, flush=True)  # fmt: skip
                _pretrain(recipe, arch, folder, progress)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file in the cache: say which, and how to rebuild it
        raise HomePretrainError(f"{path} is not readable home weights ({type(e).__name__}); delete {folder} to "
                                "pretrain it again") from None  # fmt: skip


def _pretrain(recipe: HomeRecipe, arch: dict[str, Any], folder: Path, progress: bool) -> None:
    """Build the zoo, train the classifier in ``folder/run`` (resumable), publish its encoder weights."""
    from vantage.data import build_dataset, dataset_dir, load_build_config
    from vantage.train.classify import ClassifyTrainConfig, train_classify
    from vantage.train.common import load_vantage_checkpoint, strip_prefix

    root = Path(recipe.data).expanduser()
    if not (root / "dataset.json").is_file():
        data_cfg = load_build_config(recipe.data)
        root = dataset_dir(data_cfg)
        if not (root / "dataset.json").is_file():
            build_dataset(data_cfg, root, progress=progress)
    cfg = ClassifyTrainConfig(model=arch["model"], model_kwargs=arch["model_kwargs"], image_size=arch["image_size"],
                              train_view_set=recipe.view_set, epochs=recipe.epochs, lr=recipe.lr,
                              batch_size=recipe.batch_size, seed=recipe.seed, curve_points=2,
                              num_workers=LOADER_WORKERS)  # fmt: skip
    ckpt = train_classify(cfg, root, folder / "run", progress=progress)
    _, state = load_vantage_checkpoint(ckpt, ("cfg", "classes"), "vantage train classify")
    encoder = {k: v for k, v in strip_prefix(state, "model.").items() if not k.startswith("head.")}
    import io

    buf = io.BytesIO()
    torch.save(encoder, buf)
    atomic_write_bytes(folder / ENCODER_FILE, buf.getvalue())
    atomic_write_json(folder / "card.json", {"recipe": asdict(recipe), "arch": arch, "data": str(root),
                                             "checkpoint": str(ckpt)})  # fmt: skip


def fold_input_norm(state: dict[str, torch.Tensor], mean: tuple[float, ...], std: tuple[float, ...],
                    key: str = "patch_embed.proj") -> dict[str, torch.Tensor]:  # fmt: skip
    """Weights for inputs normalised by (``mean``, ``std``) from weights trained on [0, 1] inputs: the patch
    projection absorbs the affine map exactly (W' = W s, b' = b + W m)."""
    w, b = state[f"{key}.weight"], state[f"{key}.bias"]
    m = torch.tensor(mean, dtype=w.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=w.dtype).view(1, -1, 1, 1)
    return {**state, f"{key}.weight": w * s, f"{key}.bias": b + (w * m).sum(dim=(1, 2, 3))}


def load_home_encoder(encoder: torch.nn.Module, state: dict[str, torch.Tensor], spec: str) -> None:
    """Load home weights into a timm encoder built for them; the modules it adds (3DTRL, a new head) keep their
    initialisation, and any pretrained weight it cannot take is one clear error."""
    own = encoder.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise HomePretrainError(f"{spec}: the model does not fit its pretrained weights ({bad[:3]} ...)")
    encoder.load_state_dict(state, strict=False)
