"""Method plug-ins: one object per method that `vantage bench`, `vantage report` and the config check loop over.

A plug-in names its preset section and the typed parts in it, the variants it compares, how to train and
evaluate one (variant, seed), how to turn the grid into its result dict, and how that result reads as a
report section. Register one with :func:`register_method` (as timm registers a model)::

    @register_method
    class MyMethod(MethodPlugin):
        name, title, section = "mine", "My method", "mine"
        parts = {"train": MyTrainConfig, "bench": MyBenchConfig}
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant, run_grid
from vantage.config import ConfigError, from_dict, to_dict
from vantage.report import Section

__all__ = [
    "METHODS",
    "Claim",
    "Evaluation",
    "MethodPlugin",
    "Settings",
    "Trained",
    "Variant",
    "register_method",
]


@dataclass
class Settings:
    """A method's preset section: ``typed[part]`` the checked config objects, ``raw[part]`` the fields as given
    (train fields are completed per run)."""

    typed: dict[str, Any]
    raw: dict[str, dict[str, Any]]

    def __getitem__(self, part: str) -> Any:
        return self.typed[part]


class MethodPlugin:
    """Base class of a method plug-in. Grid methods implement ``variants``, ``train``, ``evaluate`` and
    ``present``; a suite that is not a grid (the data suite) overrides ``run`` instead."""

    name: ClassVar[str]
    title: ClassVar[str]
    section: ClassVar[str | None] = None  # preset key holding the method's settings
    parts: ClassVar[dict[str, type]] = {}  # sub-section -> config dataclass
    result_dir: ClassVar[str | None] = None  # run folders under <out>/<result_dir> (default: name)
    claims: ClassVar[tuple[Claim, ...]] = ()  # the paper claims its deltas test (the report's findings table)

    # --- settings ---------------------------------------------------------------------------------------

    def settings(self, config: dict[str, Any], where: str = "preset") -> Settings:
        """Parse and check the method's preset section (every part, with errors naming file and field)."""
        section = (config.get(self.section, {}) or {}) if self.section else {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {self.section} must be a mapping, got {type(section).__name__}")
        unknown = sorted(set(section) - set(self.parts))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown} in {self.section}; expected {sorted(self.parts)}")
        typed, raw = {}, {}
        for part, cls in self.parts.items():
            raw[part] = dict(section.get(part, {}) or {})
            typed[part] = from_dict(cls, raw[part], f"{where}: {self.section}.{part}")
        return Settings(typed, raw)

    # --- the grid ---------------------------------------------------------------------------------------

    def seeds(self, s: Settings) -> list[int]:
        """Seeds of the grid (default: the ``bench`` part's ``seeds``)."""
        return list(s["bench"].seeds)

    def variants(self, s: Settings) -> list[Variant]:
        """The rows, in table order."""
        raise NotImplementedError

    def train(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, run_dir: Path, root: Path,
              done: dict[str, Trained]) -> Trained:  # fmt: skip
        """Train (or resume) one variant and seed into ``run_dir``; ``done`` holds this seed's earlier rows."""
        raise NotImplementedError

    def eval_key(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained) -> dict[str, Any]:
        """What, beside the model and data, the evaluation result depends on (for the cache key)."""
        return {part: to_dict(obj) for part, obj in s.typed.items() if part != "train"} | {"seed": seed}

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        """Score one trained model."""
        raise NotImplementedError

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        """The part of a table that delta rows compare (default: all of it)."""
        return table

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        """The suite's result from the finished grid (default: the generic record; add plots here)."""
        return grid.record()

    def dataset(self, ctx: BenchContext, s: Settings) -> Path:
        """The dataset the grid trains and evaluates on (default: the data suite's image dataset)."""
        from vantage.bench.context import resolve_dataset

        return resolve_dataset(ctx)

    def run(self, ctx: BenchContext) -> dict[str, Any]:
        """The suite: parse settings, run the grid, build the result."""
        s = self.settings(ctx.config, ctx.where)
        root = self.dataset(ctx, s)
        grid = run_grid(
            ctx,
            self.variants(s),
            self.seeds(s),
            lambda v, seed, run_dir, done: self.train(ctx, s, v, seed, run_dir, root, done),
            lambda v, seed, trained: self.evaluate(ctx, s, v, seed, trained, root),
            folder=self.result_dir or self.name,
            root=root,
            key=lambda v, seed, trained: self.eval_key(ctx, s, v, seed, trained),
            delta_view=self.delta_view,
        )
        return {"ok": True, "dataset": str(root), **self.finish(ctx, s, grid, root)}

    # --- the report -------------------------------------------------------------------------------------

    def present(self, result: dict[str, Any], run_dir: Path) -> Section:
        """The report section of a result (HTML and Markdown are rendered from it)."""
        raise NotImplementedError

    def findings(self, result: dict[str, Any]) -> list[list[str]]:
        """[claim, ours, paper, reproduced?] rows for the report's findings table (default: ``claims`` against the
        result's deltas)."""
        from vantage.bench.findings import claim_row

        return [claim_row(c, result.get("deltas", {})) for c in self.claims]


METHODS: dict[str, MethodPlugin] = {}


def register_method(cls: type[MethodPlugin]) -> type[MethodPlugin]:
    """Class decorator: register a plug-in under its ``name`` (one instance per class)."""
    if cls.name in METHODS and type(METHODS[cls.name]) is not cls:
        raise ValueError(f"a method named {cls.name!r} is already registered ({type(METHODS[cls.name]).__name__})")
    METHODS[cls.name] = cls()
    return cls
