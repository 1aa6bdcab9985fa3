"""Markdown of a bench run's method sections (for docs/results.md): the same tables as the HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vantage.report.blocks import Section, Table, Text

__all__ = ["markdown_report", "markdown_table"]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(table: Table) -> list[str]:
    """A Markdown table (first column left-aligned, the rest right-aligned), its title in bold above."""
    out = [f"**{table.title}**", ""] if table.title else []
    rule = "|---|" + "---:|" * (len(table.header) - 1)
    return [*out, _row(table.header), rule, *(_row(r) for r in table.rows), ""]


def markdown_report(results: dict[str, Any], sections: Sequence[Section]) -> str:
    """Markdown for the sections marked ``markdown`` (tables and text; figures and configurations omitted)."""
    lines = [
        f"Preset `{results.get('preset')}`, command `{results.get('command')}`, started {results.get('started')}.",
        "",
    ]
    for s in sections:
        if not s.markdown:
            continue
        lines += [f"### {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                lines += markdown_table(b)
            elif isinstance(b, Text) and b.tone is None:
                lines += [b.text, ""]
        if s.footer:
            lines += [s.footer, ""]
    return "\n".join(lines)
