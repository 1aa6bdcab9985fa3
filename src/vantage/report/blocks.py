"""What a report is made of: sections of text, tables, key-value lists and figures, and the number formats.

Method plug-ins turn their results into these blocks; the HTML and Markdown writers render any of them, so
the report layer knows no method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Figure", "KeyValues", "Section", "Table", "Text", "fmt_mean_std", "fmt_signed", "mean_of"]


@dataclass
class Text:
    """A paragraph; ``tone`` "ok" or "bad" renders it as a status line."""

    text: str
    tone: str | None = None


@dataclass
class Table:
    """A grid of already-formatted cells under a header; ``title`` above it (optional)."""

    header: list[str]
    rows: list[list[str]]
    title: str = ""


@dataclass
class KeyValues:
    """A two-column table of facts; ``collapsed`` hides it behind a summary line in HTML (configurations)."""

    items: dict[str, Any]
    title: str = ""
    collapsed: bool = False
    head: tuple[str, str] = ("", "")


@dataclass
class Figure:
    """A PNG in the run folder (path relative to it) with its caption; missing files render as a note."""

    path: str | None
    caption: str


Block = Text | Table | KeyValues | Figure


@dataclass
class Section:
    """One suite's part of the report; ``markdown`` marks the sections the Markdown tables include."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    markdown: bool = True
    footer: str = ""


def mean_of(leaf: Any) -> float | None:
    """The mean of an aggregated leaf (``{"mean", ...}``), a plain number as is, else None."""
    if isinstance(leaf, dict):
        return leaf.get("mean")
    return float(leaf) if isinstance(leaf, (int, float)) and not isinstance(leaf, bool) else None


def fmt_mean_std(leaf: Any, digits: int = 1) -> str:
    """``mean ± std`` for an aggregated leaf (``mean`` alone for one seed); ``-`` if absent."""
    if not isinstance(leaf, dict) or "mean" not in leaf:
        return "-"
    if leaf.get("n", 1) > 1:
        return f"{leaf['mean']:.{digits}f} ± {leaf['std']:.{digits}f}"
    return f"{leaf['mean']:.{digits}f}"


def fmt_signed(leaf: Any, digits: int = 1) -> str:
    """A difference with its sign (``+1.2 ± 0.3`` for an aggregated leaf); ``-`` if absent or not finite."""
    m = mean_of(leaf)
    if m is None or m != m:  # absent or NaN
        return "-"
    if isinstance(leaf, dict) and leaf.get("n", 1) > 1:
        return f"{m:+.{digits}f} ± {leaf['std']:.{digits}f}"
    return f"{m:+.{digits}f}"
