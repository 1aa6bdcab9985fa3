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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vantage.bench.context import BenchContext
from vantage.bench.curves import learning_curves
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant, run_grid
from vantage.config import ConfigError, from_dict, to_dict
from vantage.report import Section

__all__ = [
    "ENTRY_POINT_GROUP",
    "METHODS",
    "PRESET_KEYS",
    "Claim",
    "EvalCommand",
    "Evaluation",
    "MethodPlugin",
    "Option",
    "Settings",
    "TrainCommand",
    "Trained",
    "Variant",
    "check_sections",
    "load_entry_point_methods",
    "method_preset",
    "register_method",
]

ENTRY_POINT_GROUP = "vantage.methods"


@dataclass
class Settings:
    """A method's preset section: ``typed[part]`` the checked config objects, ``raw[part]`` the fields as given
    (train fields are completed per run)."""

    typed: dict[str, Any]
    raw: dict[str, dict[str, Any]]

    def __getitem__(self, part: str) -> Any:
        return self.typed[part]


@dataclass(frozen=True)
class Option:
    """A command option that is not a config field (``name`` is the Python name the plug-in receives)."""

    name: str
    type: Any
    default: Any = None  # ... (Ellipsis): the option is required
    help: str = ""
    flags: tuple[str, ...] = ()  # spellings (default: --name-with-dashes)


@dataclass(frozen=True)
class TrainCommand:
    """``vantage train <name>``: the preset part its config comes from, the function that trains it
    (``fn(cfg, data, out, progress=, stop_after=, overwrite=, **extras) -> path``) and its default run folder
    (``runs/<folder>/<run_name formatted with the config's fields>``)."""

    name: str
    fn: Callable[..., Path]
    part: str = "train"
    help: str = ""
    run_name: str = "seed{seed}"
    folder: str | None = None
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> spellings, e.g. trl3d: ("--3dtrl",)
    extras: tuple[Option, ...] = ()
    data_help: str = "Dataset folder (default: the preset's cached build)."
    prints: str = "checkpoint"  # what the closing line names


@dataclass(frozen=True)
class EvalCommand:
    """``vantage eval <name>``: the preset part its config comes from (None: no config), the options beyond the
    common ones (what to evaluate is one of them). The plug-in's ``run_eval`` does the work."""

    name: str
    part: str | None = "eval"
    help: str = ""
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extras: tuple[Option, ...] = ()
    data_help: str = "Dataset folder (default: the preset's cached build)."
    out_help: str = "JSON file to write (default: print only)."


class MethodPlugin:
    """Base class of a method plug-in. Grid methods implement ``variants``, ``train``, ``evaluate`` and
    ``present``; a suite that is not a grid (the data suite) overrides ``run`` instead."""

    name: ClassVar[str]
    title: ClassVar[str]
    section: ClassVar[str | None] = None  # preset key holding the method's settings
    parts: ClassVar[dict[str, type]] = {}  # sub-section -> config dataclass
    result_dir: ClassVar[str | None] = None  # run folders under <out>/<result_dir> (default: name)
    claims: ClassVar[tuple[Claim, ...]] = ()  # the paper claims its deltas test (the report's findings table)
    train_commands: ClassVar[tuple[TrainCommand, ...]] = ()  # `vantage train <name>`; the first trains the grid
    eval_commands: ClassVar[tuple[EvalCommand, ...]] = ()  # `vantage eval <name>`, run by ``run_eval``
    presets: ClassVar[dict[str, dict[str, Any]]] = {}  # preset name -> the method's section values in it

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
        """Train (or resume) one variant and seed into ``run_dir``; ``done`` holds this seed's earlier rows.
        Default: the first train command on the typed ``train`` part with the variant's fields and the seed."""
        from vantage.io import sha256_file

        spec = next((c for c in self.train_commands if c.part == "train"), None)
        if spec is None:
            raise NotImplementedError(f"{self.name}: no train command for the grid; override train()")
        cfg = dataclasses.replace(s["train"], **v.fields, seed=seed)
        path = spec.fn(cfg, root, run_dir, progress=ctx.progress, overwrite=ctx.overwrite)
        return Trained(path, sha256_file(path) if Path(path).is_file() else str(path), cfg)

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        """The data ``vantage train <spec.name>`` trains on: ``--data``, else the preset's cached build."""
        from vantage.data import resolve_data_root

        return resolve_data_root(data, preset)

    def run_eval(self, spec: EvalCommand, cfg: Any, values: dict[str, Any]) -> None:
        """Run ``vantage eval <spec.name>``: ``cfg`` is the typed eval part (preset, options, --set), ``values``
        every option by name (data, preset, out, device, quiet and the extras)."""
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
        result = self.finish(ctx, s, grid, root)
        curves = learning_curves(grid, ctx.out, self.name, result.get("chance_top1"))
        return {"ok": True, "dataset": str(root), **result, **({"curves": curves} if curves else {})}

    # --- the report -------------------------------------------------------------------------------------

    def present(self, result: dict[str, Any], run_dir: Path) -> Section:
        """The report section of a result (HTML and Markdown are rendered from it)."""
        raise NotImplementedError

    def findings(self, result: dict[str, Any]) -> list[list[str]]:
        """[claim, ours, paper, reproduced?] rows for the report's findings table (default: ``claims`` against the
        result's deltas)."""
        from vantage.bench.findings import claim_row

        return [claim_row(c, result.get("deltas", {}), result) for c in self.claims]


METHODS: dict[str, MethodPlugin] = {}
_LOADED: dict[str, bool] = {"entry_points": False}


def register_method(cls: type[MethodPlugin]) -> type[MethodPlugin]:
    """Class decorator: register a plug-in under its ``name`` (one instance per class)."""
    if cls.name in METHODS and type(METHODS[cls.name]) is not cls:
        raise ValueError(f"a method named {cls.name!r} is already registered ({type(METHODS[cls.name]).__name__})")
    METHODS[cls.name] = cls()
    return cls


def method_preset(preset: str | Path) -> dict[str, Any]:
    """A preset with every registered method's own values for it (``MethodPlugin.presets``, following
    ``extends``) under the preset file's sections, so a method package ships its quick / default / paper values
    without editing a shared YAML."""
    from vantage.config import load_preset, merge_config, preset_lineage

    config = load_preset(preset)
    check_sections(config, f"preset {preset}")
    lineage = preset_lineage(preset)
    for plugin in METHODS.values():
        own: dict[str, Any] = {}
        for name in lineage:
            own = merge_config(own, plugin.presets.get(name, {}))
        if own and plugin.section:
            config[plugin.section] = merge_config(own, config.get(plugin.section) or {})
    return config


PRESET_KEYS = ("extends", "data", "bench")  # top-level preset keys that are not a method's section


def check_sections(config: dict[str, Any], where: str) -> None:
    """Refuse preset sections no registered method reads, and parts a method does not have (every command
    checks its preset here, so a typo such as `sssl:` or `ssl.trian` is one line, not silently ignored)."""
    sections = {m.section: m for m in METHODS.values() if m.section}
    unknown = sorted(set(config) - set(sections) - set(PRESET_KEYS))
    if unknown:
        known = sorted(set(sections) | set(PRESET_KEYS))
        raise ConfigError(f"{where}: unknown preset section(s) {unknown}; known: {known}")
    for name, plugin in sections.items():
        part = config.get(name) or {}
        if isinstance(part, dict) and (bad := sorted(set(part) - set(plugin.parts))):
            raise ConfigError(f"{where}: unknown key(s) {bad} in {name}; expected {sorted(plugin.parts)}")


def load_entry_point_methods() -> list[str]:
    """Import every method package that declares an entry point in the ``vantage.methods`` group (importing
    it registers its plug-in); a package that fails to import is named in one line. Returns the names loaded."""
    from importlib.metadata import entry_points

    if _LOADED["entry_points"]:
        return []
    _LOADED["entry_points"] = True
    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:
            raise ConfigError(f"method package {ep.value!r} (entry point {ep.name!r}) failed to load: "
                              f"{type(e).__name__}: {e}") from e  # fmt: skip
        names.append(ep.name)
    return names
