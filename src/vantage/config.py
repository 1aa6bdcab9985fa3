"""Typed configs: dataclasses filled from YAML/dicts with errors that name the file and field, and presets."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import sys
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vantage.errors import VantageError

__all__ = [
    "MAX_IMAGE_SIZE",
    "ConfigError",
    "config_hash",
    "from_dict",
    "load_preset",
    "load_yaml",
    "merge_config",
    "parse_yaml",
    "preset_lineage",
    "preset_names",
    "set_override",
    "to_dict",
]

T = TypeVar("T")
MAX_IMAGE_SIZE = 4096  # the largest image side any build, import or training accepts (pixels)
MAX_PRESET_BYTES = 1 << 20  # a preset or config file larger than this is refused before parsing


class ConfigError(VantageError, ValueError):
    """A config file or value that does not fit its schema; the message names the field."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {_type_name(tp)}, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}: {value!r}")
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else Any
        out = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_convert(k, kt, where): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 and 3e-4 (no dot) as strings
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown or ill-typed fields raise ConfigError naming them."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(fields)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def to_dict(obj: Any) -> Any:
    """Plain JSON-able dict/list form of a (nested) dataclass config."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def config_hash(obj: Any) -> str:
    """Stable sha256 of a config's canonical JSON form."""
    return hashlib.sha256(json.dumps(to_dict(obj), sort_keys=True).encode()).hexdigest()


class _PlainLoader(yaml.SafeLoader):
    """YAML without aliases: ``*name`` references are refused, so a small file cannot expand into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed "
                                 "in vantage configs; write the values out")  # fmt: skip
        return super().compose_node(parent, index)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text without aliases; errors are one line naming ``where`` (at most 300 characters)."""
    try:
        return yaml.load(text, Loader=_PlainLoader)
    except yaml.YAMLError as e:
        first = " ".join(str(e).split())
        raise ConfigError(f"{where} is not valid YAML: {first[:300]}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing, oversized, unreadable or non-mapping file raises ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.stat().st_size > MAX_PRESET_BYTES:
        raise ConfigError(f"config file {path} is {path.stat().st_size} bytes; a preset is at most {MAX_PRESET_BYTES}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    data = parse_yaml(text, f"config file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(data).__name__}")
    return data


def preset_names() -> list[str]:
    """Names of the presets shipped with vantage (quick, default, paper, ...)."""
    return sorted(p.name[:-5] for p in resources.files("vantage.configs").iterdir() if p.name.endswith(".yaml"))


def merge_config(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update`` recursively (mappings merge, everything else replaces); the result shares no
    nested dict or list with ``update``, so changing it (a ``--set``) never changes the source (a plug-in's
    class-level preset values)."""
    out = dict(base)
    for k, v in update.items():
        both = isinstance(v, Mapping) and isinstance(out.get(k), dict)
        out[k] = merge_config(out[k], v) if both else copy.deepcopy(v)
    return out


def load_preset(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A shipped preset by name, or any YAML file by path. ``extends: <preset>`` at the top of a preset
    deep-merges it over that base (so a variant lists only what it changes)."""
    data = _load_preset_file(name_or_path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if str(base) in _seen:
        raise ConfigError(f"preset {name_or_path}: `extends` cycle through {base!r}")
    return merge_config(load_preset(base, (*_seen, str(name_or_path))), data)


def preset_lineage(name_or_path: str | Path) -> list[str]:
    """The presets a preset is made of, base first: ``repro`` -> ``["default", "repro"]``; a file counts by its stem."""
    load_preset(name_or_path)  # refuses cycles and unknown names
    base = _load_preset_file(name_or_path).get("extends")
    return [*(preset_lineage(base) if base is not None else []), Path(str(name_or_path)).stem]


_WARNED: set[str] = set()


def _load_preset_file(name_or_path: str | Path) -> dict[str, Any]:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return _moved_sections(load_yaml(candidate), str(candidate))
    name = str(name_or_path)
    if name not in preset_names():
        raise ConfigError(
            f"unknown preset {name!r}; shipped presets: {', '.join(preset_names())} (or give a .yaml path)"
        )
    with resources.as_file(resources.files("vantage.configs") / f"{name}.yaml") as p:
        return load_yaml(p)


def set_override(data: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} must look like key.path=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {assignment!r}: {p!r} is not a section")
    node[parts[-1]] = parse_yaml(raw, f"override {assignment[:80]!r}")


def _moved_sections(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Read a preset written before the video-alignment data moved: a top-level ``video:`` becomes
    ``align.data`` (one deprecation line on stderr per file)."""
    if "video" not in data:
        return data
    align = data.setdefault("align", {}) or {}
    if not isinstance(align, dict) or "data" in align:
        raise ConfigError(f"{where}: give the video-alignment data once, as align.data (video: is the old name)")
    data["align"] = {"data": data.pop("video"), **align}
    if where not in _WARNED:
        _WARNED.add(where)
        print(f"vantage: {where}: the top-level `video:` section is now `align.data:` (read as such; "
              "please move it)", file=sys.stderr)  # fmt: skip
    return data
