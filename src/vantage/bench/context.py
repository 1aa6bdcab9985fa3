"""What every bench suite gets: the run's preset, output folder and shared inputs, and where its data is."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vantage.config import from_dict

__all__ = ["BenchContext", "default_coil20", "resolve_dataset"]


@dataclass
class BenchContext:
    """The preset, where to write, shared inputs and a per-run memo (decoded data)."""

    preset: str
    config: dict[str, Any]
    out: Path
    data_root: Path | None = None
    coil20: Path | None = None
    real: dict[str, Path] = field(default_factory=dict)  # further real sets (`--real name=folder`)
    workers: int | None = None
    device: str = "cpu"  # where evaluations run (`--device`, resolved); training follows the train configs
    progress: bool = True
    overwrite: bool = False  # retrain runs whose config changed instead of refusing them
    memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """How errors name this run's config."""
        return f"preset {self.preset}"

    def real_data(self) -> Path | None:
        """The COIL-20 folder when it exists, else None."""
        return self.coil20 if self.coil20 is not None and Path(self.coil20).is_dir() else None

    def real_key(self) -> dict[str, str]:
        """What the real sets add to an evaluation's cache key (nothing when only COIL-20 is used)."""
        key = {"coil20": str(self.real_data())}
        return key | ({"real": {k: str(v) for k, v in self.real.items()}} if self.real else {})


def default_coil20() -> Path | None:
    """COIL-20 location: ``$VANTAGE_COIL20``, else ``../shared/data/coil20`` if it exists, else None."""
    env = os.environ.get("VANTAGE_COIL20")
    if env:
        return Path(env)
    candidate = Path("../shared/data/coil20")
    return candidate.resolve() if candidate.is_dir() else None


def resolve_dataset(ctx: BenchContext) -> Path:
    """The image dataset a method suite uses: ``--data`` (which must be built), else the preset's cached build,
    built here when no suite has built it yet (so suites do not depend on their order)."""
    from vantage.data import BuildConfig, build_dataset, dataset_dir

    if ctx.data_root is not None:
        root = Path(ctx.data_root)
        if not (root / "dataset.json").is_file():
            raise FileNotFoundError(f"no built dataset at {root} (--data): build it with `vantage data build`")
        return root
    cfg = from_dict(BuildConfig, ctx.config.get("data", {}) or {}, f"{ctx.where}: data")
    root = dataset_dir(cfg)
    if not (root / "dataset.json").is_file():
        build_dataset(cfg, root, workers=ctx.workers, progress=ctx.progress)
    return root
