"""Render a bench run folder (results.json + PNGs) into one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from vantage.io import atomic_write_text

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.ok{color:#176317;font-weight:bold}.bad{color:#a31515;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:.4em 0}pre{background:#f7f7f7;padding:.8em;overflow:auto}
.muted{color:#777}
"""


def _table(rows: dict[str, Any], head: tuple[str, str] = ("", "")) -> str:
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())
    header = f"<tr><th>{html.escape(head[0])}</th><th>{html.escape(head[1])}</th></tr>" if any(head) else ""
    return f"<table>{header}{cells}</table>"


def _img(run_dir: Path, rel: str | None, alt: str) -> str:
    if not rel or not (run_dir / rel).is_file():
        return f"<p class='muted'>({html.escape(alt)}: not available)</p>"
    data = base64.b64encode((run_dir / rel).read_bytes()).decode()
    alt = html.escape(alt)
    return f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'><figcaption>{alt}</figcaption></figure>"


def _data_section(run_dir: Path, res: dict[str, Any]) -> str:
    ds, build, verify = res.get("dataset", {}), res.get("build", {}), res.get("verify", {})
    ok = verify.get("problems", 1) == 0
    status = f"<span class='{'ok' if ok else 'bad'}'>{'verified' if ok else 'VERIFY FAILED'}</span>"
    parts = [
        "<h2>Data</h2>",
        f"<p>{status} &middot; {html.escape(str(ds.get('root', '')))}</p>",
        _table(
            {
                "images": ds.get("images"),
                "image size": ds.get("image_size"),
                "objects": ds.get("objects"),
                "manifest hash": ds.get("manifest_hash"),
                "build seconds": build.get("seconds"),
                "rendered now / reused": f"{build.get('rendered')} / {build.get('skipped')} objects skipped",
                "with depth / mask": f"{ds.get('with_depth')} / {ds.get('with_mask')}",
            }
        ),
        "<h3>Images per view set and split</h3>",
        _table(ds.get("by_view_set", {}), ("view set", "images")),
        _table(ds.get("by_split", {}), ("split", "images")),
    ]
    if verify.get("first"):
        items = "".join(f"<li>{html.escape(p)}</li>" for p in verify["first"])
        parts.append(f"<h3>Verify problems</h3><ul>{items}</ul>")
    parts.append(_img(run_dir, res.get("contact_sheet"), "Contact sheet: categories x viewpoints (azimuth/elevation)"))
    parts.append(_img(run_dir, res.get("view_sphere"), "View sets on the sphere"))
    coil = res.get("coil20", {})
    parts.append("<h3>Real data (COIL-20)</h3>")
    parts.append(_table(coil) if coil else "<p class='muted'>not recorded</p>")
    return "".join(parts)


def _grid(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _pose_ssl_section(run_dir: Path, res: dict[str, Any]) -> str:
    from vantage.bench.stats import fmt_mean_std
    from vantage.eval.metrics import POSE_METRICS, variant_table_rows

    seeds = res.get("bench_config", {}).get("seeds", [])
    parts = [
        "<h2>Pose-aware SSL: semantics and pose</h2>",
        f"<p>Top-1 (%) per feature tap, mean &plusmn; std over seeds {html.escape(str(seeds))}. abs = absolute pose "
        "(per-category kNN over Fib(50) view bins; unseen poses: accuracy within 30&deg;), rel = relative-pose "
        "probe (50 rotation bins), COIL-20 = relative azimuth on real photographs (12 bins).</p>",
    ]
    for tap in res.get("taps", []):
        parts.append(f"<h3>{html.escape(tap)}</h3>")
        rows = variant_table_rows(res.get("table", {}), tap, fmt_mean_std, res.get("order"))
        parts.append(_grid(["model", *POSE_METRICS], rows))
    deltas = res.get("deltas", {})
    rows = [
        [name, tap, *(f"{d.get(label, float('nan')):+.1f}" for label in POSE_METRICS)]
        for name, by_tap in deltas.get("traj_minus_plain", {}).items()
        for tap, d in by_tap.items()
    ]
    if rows:
        parts.append("<h3>Trajectory loss: +traj minus plain (mean, points)</h3>")
        parts.append(_grid(["model", "tap", *POSE_METRICS], rows))
    rows = [
        [name, tap, *(f"{d.get(label, float('nan')):+.1f}" for label in POSE_METRICS)]
        for name, by_tap in deltas.get("tap_minus_pooled", {}).items()
        for tap, d in by_tap.items()
    ]
    if rows:
        parts.append("<h3>Mid-layer taps minus pooled (mean, points)</h3>")
        parts.append(_grid(["model", "tap", *POSE_METRICS], rows))
    plots = res.get("plots", {})
    parts.append(_img(run_dir, plots.get("sphere"), "Absolute-pose accuracy per viewpoint (azimuth x elevation)"))
    parts.append(_img(run_dir, plots.get("errors"), "Absolute-pose geodesic error histograms"))
    cfg = {**res.get("train_config", {}), **{f"eval.{k}": v for k, v in res.get("eval_config", {}).items()}}
    parts.append("<details><summary>configuration</summary>" + _table(cfg) + "</details>")
    return "".join(parts)


def _trl3d_section(run_dir: Path, res: dict[str, Any]) -> str:
    from vantage.bench.stats import fmt_mean_std

    seeds = res.get("bench_config", {}).get("seeds", [])
    cols = ["seen_views", "unseen_poses", "perturbed"]
    rows = []
    table = res.get("table", {})
    for name in [n for n in res.get("order", list(table)) if n in table]:
        t = table[name]
        depth = t.get("pseudo_depth", {})
        top1 = [fmt_mean_std(t.get("top1", {}).get(c)) for c in cols]
        rho = [fmt_mean_std(depth.get("spearman_mean"), 3), fmt_mean_std(depth.get("abs_spearman_mean"), 3)]
        rows.append([name, *top1, *rho])
    view = res.get("train_config", {}).get("train_view_set", "?")
    parts = [
        "<h2>3DTRL: viewpoint-robust classification</h2>",
        f"<p>Top-1 (%) on held-out objects, mean &plusmn; std over seeds {html.escape(str(seeds))}; trained on the "
        f"<b>{html.escape(str(view))}</b> views. Pseudo-depth: per-image Spearman correlation of token depth with "
        "rendered depth (signed, and absolute).</p>",
        _grid(["model", "seen views", "unseen poses (Fib100)", "perspective-perturbed", "depth rho", "|rho|"], rows),
    ]
    plots = res.get("plots", {})
    parts.append(_img(run_dir, plots.get("sphere"), "Top-1 per viewpoint over the sphere (azimuth x elevation)"))
    parts.append(_img(run_dir, plots.get("depth"), "Image, rendered depth and 3DTRL pseudo-depth"))
    parts.append("<details><summary>configuration</summary>" + _table(res.get("train_config", {})) + "</details>")
    return "".join(parts)


def _ovt_section(run_dir: Path, res: dict[str, Any]) -> str:
    from vantage.bench.stats import fmt_mean_std
    from vantage.eval.zeroshot import ZEROSHOT_COLUMNS, zeroshot_table_rows

    seeds = res.get("bench_config", {}).get("seeds", [])
    rows = zeroshot_table_rows(res.get("table", {}), fmt_mean_std, res.get("order"), res.get("deltas"))
    parts = [
        "<h2>Omniview-Tuning: zero-shot under viewpoint shift</h2>",
        f"<p>Zero-shot top-1 (%) on held-out objects, mean &plusmn; std over seeds {html.escape(str(seeds))}. The base "
        "CLIP saw only near-front views; clean = those views of new objects; 2D shifts of the same images; sphere = "
        "unseen poses over the whole sphere; worst view = an object counts only if its lowest-scoring rendered view "
        "is right; COIL-20 = same-object retrieval across azimuth. &Delta; rows: variant minus base, same seed.</p>",
        _grid(["model", *ZEROSHOT_COLUMNS], rows),
    ]
    plots = res.get("plots", {})
    parts.append(_img(run_dir, plots.get("sphere"), "Zero-shot top-1 per unseen viewpoint (azimuth x elevation)"))
    cfg = {**{f"base.{k}": v for k, v in res.get("base_config", {}).items()}, **res.get("train_config", {})}
    parts.append("<details><summary>configuration</summary>" + _table(cfg) + "</details>")
    return "".join(parts)


_SECTIONS = {"data": _data_section, "pose_ssl": _pose_ssl_section, "trl3d": _trl3d_section, "ovt": _ovt_section}


def write_report(run_dir: str | Path) -> Path:
    """Write ``<run_dir>/report.html`` from ``<run_dir>/results.json``; returns its path."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `vantage bench --out {run_dir}` first")
    results = json.loads(path.read_text())
    body = [
        f"<h1>vantage bench &mdash; preset {html.escape(str(results.get('preset')))}</h1>",
        _table(
            {
                "started": results.get("started"),
                "finished": results.get("finished"),
                "status": results.get("status"),
                "command": results.get("command"),
            }
        ),
        "<h3>Machine</h3>",
        _table(results.get("machine", {})),
    ]
    for name, res in results.get("suites", {}).items():
        section = _SECTIONS.get(name)
        if res.get("error"):
            body.append(f"<h2>{html.escape(name)}</h2><p class='bad'>failed: {html.escape(res['error'])}</p>")
        elif section is not None:
            body.append(section(run_dir, res))
        else:
            body.append(f"<h2>{html.escape(name)}</h2><pre>{html.escape(json.dumps(res, indent=2))}</pre>")
    body.append(
        f"<details><summary>results.json</summary><pre>{html.escape(json.dumps(results, indent=2))}</pre></details>"
    )
    head = f"<meta charset='utf-8'><title>vantage report</title><style>{_CSS}</style>"
    page = f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out
