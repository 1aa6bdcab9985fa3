"""Render a bench run (results.json, report sections, PNGs) into one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vantage.io import OutsideFolderError, atomic_write_text, inside
from vantage.report.blocks import Block, Figure, KeyValues, Section, Table, Text

__all__ = ["render_html", "render_page", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.ok{color:#176317;font-weight:bold}.bad{color:#a31515;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:.4em 0}pre{background:#f7f7f7;padding:.8em;overflow:auto}
.muted{color:#777}
"""

_esc = html.escape


def _pairs(items: dict[str, Any], head: tuple[str, str] = ("", "")) -> str:
    cells = "".join(f"<tr><td>{_esc(str(k))}</td><td>{_esc(str(v))}</td></tr>" for k, v in items.items())
    header = f"<tr><th>{_esc(head[0])}</th><th>{_esc(head[1])}</th></tr>" if any(head) else ""
    return f"<table>{header}{cells}</table>"


def _grid(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(run_dir: Path, fig: Figure) -> str:
    """A figure of the run folder embedded in the page; a path that leaves the folder is refused, not read."""
    try:
        path = inside(run_dir, fig.path, "run folder") if fig.path else None
    except OutsideFolderError:
        return f"<p class='bad'>({_esc(fig.caption)}: refused, {_esc(str(fig.path))} is not a file of this run)</p>"
    if path is None or not path.is_file() or path.suffix.lower() != ".png":
        return f"<p class='muted'>({_esc(fig.caption)}: not available)</p>"
    data = base64.b64encode(path.read_bytes()).decode()
    alt = _esc(fig.caption)
    return f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'><figcaption>{alt}</figcaption></figure>"


def _block(run_dir: Path, b: Block) -> str:
    if isinstance(b, Text):
        return f"<p class='{b.tone}'>{_esc(b.text)}</p>" if b.tone else f"<p>{_esc(b.text)}</p>"
    if isinstance(b, Table):
        return (f"<h3>{_esc(b.title)}</h3>" if b.title else "") + _grid(b.header, b.rows)
    if isinstance(b, KeyValues):
        body = _pairs(b.items, b.head) if b.items else "<p class='muted'>not recorded</p>"
        if b.collapsed:
            return f"<details><summary>{_esc(b.title or 'details')}</summary>{body}</details>"
        return (f"<h3>{_esc(b.title)}</h3>" if b.title else "") + body
    return _figure(run_dir, b)


def render_html(run_dir: Path, results: dict[str, Any], sections: Sequence[Section]) -> str:
    """The whole page: run facts, every section, the machine, and the raw results.json."""
    body = [
        f"<h1>vantage bench &mdash; preset {_esc(str(results.get('preset')))}</h1>",
        _pairs({k: results.get(k) for k in ("started", "finished", "status", "command")}),
    ]
    if Path(str(results.get("preset"))).stem == "quick":
        note = ("Smoke-test scale (preset quick): tiny models trained for seconds check that every suite runs end "
                "to end; the numbers are not results (chance-level rows are expected). docs/results.md has the "
                "measured ones.")  # fmt: skip
        body.append(_block(run_dir, Text(note, "bad")))
    body += _sections(run_dir, sections)
    body += ["<h3>Machine</h3>", _pairs(results.get("machine", {}))]
    body.append(f"<details><summary>results.json</summary><pre>{_esc(json.dumps(results, indent=2))}</pre></details>")
    return _document("vantage report", body)


def _sections(folder: Path, sections: Sequence[Section]) -> list[str]:
    out = []
    for s in sections:
        out.append(f"<h2>{_esc(s.title)}</h2>")
        out += [_block(folder, b) for b in s.blocks]
    return out


def _document(title: str, body: list[str]) -> str:
    head = f"<meta charset='utf-8'><title>{_esc(title)}</title><style>{_CSS}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"


def render_page(folder: Path, title: str, sections: Sequence[Section]) -> str:
    """A self-contained page of ``sections`` (figures are read from ``folder``), e.g. an encoder's report card."""
    return _document(title, [f"<h1>{_esc(title)}</h1>", *_sections(folder, sections)])


def write_report(run_dir: str | Path, results: dict[str, Any], sections: Sequence[Section]) -> Path:
    """Write ``<run_dir>/report.html``; returns its path."""
    run_dir = Path(run_dir)
    out = run_dir / "report.html"
    atomic_write_text(out, render_html(run_dir, results, sections))
    return out
