"""`vantage train <name>` and `vantage eval <name>`, generated from what a plug-in declares: one option per
scalar field of its config dataclass (type and default from the field, help from its comment), the options every
run shares, and the plug-in's own extras. No method writes CLI code."""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from vantage.bench.plugin import METHODS, EvalCommand, Option, TrainCommand, load_entry_point_methods, method_preset
from vantage.config import ConfigError, from_dict, parse_yaml, set_override, to_dict

__all__ = ["command_config", "config_options", "field_help", "method_commands"]

_SCALARS = (bool, int, float, str)


def field_help(cls: type) -> dict[str, str]:
    """A dataclass's field comments (``name: type = default  # help``), its bases' included."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for m in re.finditer(r"^\s+(\w+): [^\n#]*#\s*(.+)$", source, re.M):
            found[m.group(1)] = m.group(2).strip()
    return found


def _option_type(tp: Any) -> tuple[Any, bool] | None:
    """(CLI type, parse as YAML) of a field type, or None when the field is only reachable through --set."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    if tp in _SCALARS:
        return tp, False
    if tp is Any or set(args) == {bool, str}:
        return str, True  # e.g. devices: 2 or [0, 1]; pretrained: true or vantage:zoo
    return None


def config_options(cls: type, flags: dict[str, tuple[str, ...]] | None = None,
                   skip: tuple[Option, ...] = ()) -> list[inspect.Parameter]:  # fmt: skip
    """One keyword parameter (default None: the preset's value) per scalar field of ``cls`` that no extra option
    in ``skip`` already names, typer-annotated."""
    taken = {o.name for o in skip}
    hints, helps, params = typing.get_type_hints(cls), field_help(cls), []
    for f in dataclasses.fields(cls):
        kind = _option_type(hints[f.name])
        if not f.init or kind is None or f.name in taken:
            continue
        tp, _ = kind
        default = f.default if f.default is not dataclasses.MISSING else None
        text = helps.get(f.name, f.name.replace("_", " "))
        text = f"{text} (preset, else {default})" if default is not None else f"{text} (default: the preset's)"
        spell = (flags or {}).get(f.name) or (f"--{f.name.replace('_', '-')}",)
        if tp is bool:
            base = spell[0].removeprefix("--")
            spell = (f"--{base}/--no-{base}",)
        params.append(_param(f.name, tp | None, None, text, spell))
    return params


def _param(name: str, tp: Any, default: Any, text: str, spell: tuple[str, ...]) -> inspect.Parameter:
    default = inspect.Parameter.empty if default is ... else default
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[tp, typer.Option(*spell, help=text)]
    )


def _extras(options: tuple[Option, ...]) -> list[inspect.Parameter]:
    return [_param(o.name, o.type, o.default, o.help, o.flags or (f"--{o.name.replace('_', '-')}",)) for o in options]


def _common(data_help: str, out_help: str) -> list[inspect.Parameter]:
    return [
        _param("data", Path | None, None, data_help, ("--data",)),
        _param("preset", str, "default", "Preset name (quick, default, paper) or YAML path.", ("--preset", "-p")),
        _param("out", Path | None, None, out_help, ("--out",)),
        _param("overrides", list[str] | None, None, "Override a config field: key.path=value.", ("--set",)),
    ]


def _given(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The options of ``cls``'s fields that were given on the command line (YAML-parsed where the type asks)."""
    hints, out = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        kind = _option_type(hints[f.name])  # None: not an option of the command (an extra may share the name)
        if kind is not None and values.get(f.name) is not None:
            out[f.name] = parse_yaml(values[f.name], f"--{f.name}") if kind[1] else values[f.name]
    return out


def command_config(
    cls: type,
    preset: str | dict[str, Any],
    section: str | None,
    part: str,
    values: dict[str, Any],
    overrides: list[str] | None,
    where: str,
) -> Any:
    """A config for one command: the preset's ``<section>.<part>``, then the options given, then ``--set``."""
    config = method_preset(preset) if isinstance(preset, str) else preset
    fields = dict(((config.get(section, {}) or {}).get(part, {}) or {}) if section else {})
    fields.update(_given(cls, values))  # callers pass only the values of config options
    for o in overrides or []:
        set_override(fields, o)
    return from_dict(cls, fields, where)


def _function(name: str, params: list[inspect.Parameter], doc: str, body: Callable[..., None]) -> Callable[..., None]:
    def command(**values: Any) -> None:
        body(values)

    command.__name__ = name.replace("-", "_")
    command.__doc__ = doc
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return command


def _echo_once(message: str) -> None:
    """Print from the first process only (DDP runs a command once per process)."""
    import os

    if os.environ.get("LOCAL_RANK", "0") == "0":
        typer.echo(message)


def _train_command(plugin: Any, spec: TrainCommand) -> Callable[..., None]:
    cls = plugin.parts[spec.part]
    folder = spec.folder or spec.name

    def body(values: dict[str, Any]) -> None:
        own = {k: v for k, v in values.items() if k not in {o.name for o in spec.extras}}
        cfg = command_config(
            cls, values["preset"], plugin.section, spec.part, own, values["overrides"], f"train {spec.name}"
        )
        root = plugin.train_data(spec, values["data"], values["preset"])
        run = values["out"] or Path("runs") / folder / spec.run_name.format(**to_dict(cfg))
        extras = {o.name: values[o.name] for o in spec.extras}
        path = spec.fn(
            cfg,
            root,
            run,
            progress=not values["quiet"],
            stop_after=values["stop_after"],
            overwrite=values["overwrite"],
            **extras,
        )
        _echo_once(f"{spec.prints}: {path}")

    params = [
        *config_options(cls, spec.flags, spec.extras),
        *_extras(spec.extras),
        *_common(
            spec.data_help,
            f"Run folder (default: runs/{folder}/{spec.run_name}).".replace("{", "<")
            .replace("}", ">")
            .replace(":g>", ">"),
        ),
        _param("stop_after", int | None, None, "End after this many epochs (resumable).", ("--stop-after",)),
        _param(
            "overwrite",
            bool,
            False,
            "Discard a run in --out that was trained with another config (or is corrupt).",
            ("--overwrite/--no-overwrite",),
        ),
        _param("quiet", bool, False, "No progress bar.", ("--quiet", "-q")),
    ]
    doc = spec.help or (plugin.__doc__ or plugin.title)
    return _function(spec.name, params, f"{doc} Re-running the same command resumes from last.ckpt.", body)


def _eval_command(plugin: Any, spec: EvalCommand) -> Callable[..., None]:
    cls = plugin.parts[spec.part] if spec.part else None

    def body(values: dict[str, Any]) -> None:
        cfg, values = None, {"overrides": None, **values}
        if cls is not None:
            own = {k: v for k, v in values.items() if k not in {o.name for o in spec.extras}}
            cfg = command_config(
                cls, values["preset"], plugin.section, spec.part, own, values["overrides"], f"eval {spec.name}"
            )
        plugin.run_eval(spec, cfg, values)

    common = _common(spec.data_help, spec.out_help)
    params = [
        *_extras(spec.extras),
        *(config_options(cls, spec.flags, spec.extras) if cls is not None else []),
        *(common if cls is not None else [p for p in common if p.name != "overrides"]),
        _param(
            "device",
            str,
            "auto",
            "Where to evaluate: auto (CUDA if available, else CPU) | cpu | cuda | cuda:N | mps.",
            ("--device",),
        ),
        _param("quiet", bool, False, "No progress bar.", ("--quiet", "-q")),
    ]
    return _function(spec.name, params, spec.help or (plugin.__doc__ or plugin.title), body)


_BUILT: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}


def method_commands(kind: str) -> dict[str, Any]:
    """Click commands ``{name: command}`` for every registered method's train (``kind="train"``) or eval
    commands, the methods of other packages (entry points) included."""
    import vantage.bench.methods  # noqa: F401  (the built-in plug-ins first, so a clash names the newcomer)

    load_entry_point_methods()
    key = (kind, tuple(METHODS))
    if key in _BUILT:
        return _BUILT[key]
    out: dict[str, Any] = _BUILT.setdefault(key, {})
    for plugin in METHODS.values():
        specs = plugin.train_commands if kind == "train" else plugin.eval_commands
        for spec in specs:
            if spec.name in out:
                raise ConfigError(f"two methods declare `vantage {kind} {spec.name}`")
            make = _train_command if kind == "train" else _eval_command
            app = typer.Typer(add_completion=False)
            app.command(spec.name)(make(plugin, spec))
            out[spec.name] = typer.main.get_command(app)
    return out
