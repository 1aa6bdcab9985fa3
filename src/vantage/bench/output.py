"""What an evaluation command prints and writes: rounded JSON on stdout, the record written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vantage.bench.plugin import Option
from vantage.config import ConfigError
from vantage.io import atomic_write_json

__all__ = ["REAL_SET_OPTIONS", "parse_real", "print_and_save", "real_sets", "rounded"]


def rounded(obj: Any, digits: int = 4) -> Any:
    """``obj`` with every float rounded to ``digits`` decimals (for printing results)."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [rounded(v, digits) for v in obj]
    return obj


def print_and_save(shown: dict[str, Any], out: Path | None, record: dict[str, Any], digits: int = 4) -> None:
    """Print ``shown`` as JSON (floats rounded) and, with ``out``, write ``record`` there atomically."""
    print(json.dumps(rounded(shown, digits), indent=2))
    if out is not None:
        try:
            atomic_write_json(out, record)
        except OSError as e:
            raise ConfigError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"wrote {out}")


def parse_real(values: list[str] | None) -> dict[str, Path]:
    """``--real name=folder`` (or just ``folder``: named after it) -> {name: folder}; each folder must exist."""
    out: dict[str, Path] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        folder = Path(path if sep else v)
        name = name if sep else folder.name
        if not folder.is_dir():
            raise ConfigError(f"--real {v}: {folder} is not a folder")
        if name in out:
            raise ConfigError(f"--real {v}: the name {name!r} is given twice")
        out[name] = folder
    return out


REAL_SET_OPTIONS = (
    Option("coil20", Path | None, None, "COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...)."),
    Option("no_coil20", bool, False, "Skip COIL-20.", ("--no-coil20",)),
    Option("real", list[str] | None, None, "A real image set to score, name=folder or folder (repeatable): a "
           "`vantage data import` output or a turntable folder."),
)  # fmt: skip


def real_sets(values: dict[str, Any]) -> tuple[Path | None, dict[str, Path]]:
    """(COIL-20 folder or None, {name: folder}) from the ``REAL_SET_OPTIONS`` of a command."""
    from vantage.bench.context import default_coil20

    coil = None if values["no_coil20"] else (values["coil20"] or default_coil20())
    return coil, parse_real(values["real"])
