"""Markdown tables of a bench run (for docs/results.md): the same numbers as the HTML report."""

from __future__ import annotations

from typing import Any

__all__ = ["markdown_report"]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _pose_ssl(res: dict[str, Any]) -> list[str]:
    from vantage.bench.stats import fmt_mean_std
    from vantage.eval.metrics import POSE_METRICS, variant_table_rows

    out = [f"### Pose-aware SSL (seeds {res.get('bench_config', {}).get('seeds')}; top-1 %, mean ± std)", ""]
    for tap in res.get("taps", []):
        out += [f"**{tap}**", "", _row(["model", *POSE_METRICS]), "|---|" + "---:|" * len(POSE_METRICS)]
        out += [_row(r) for r in variant_table_rows(res.get("table", {}), tap, fmt_mean_std, res.get("order"))]
        out.append("")
    for title, key in (("+traj minus plain", "traj_minus_plain"), ("tap minus pooled", "tap_minus_pooled")):
        rows = [
            _row([name, tap, *(f"{d[m]:+.1f}" if m in d else "-" for m in POSE_METRICS)])
            for name, by_tap in res.get("deltas", {}).get(key, {}).items()
            for tap, d in by_tap.items()
        ]
        if rows:
            out += [f"Deltas, {title} (points, means):", "", _row(["model", "tap", *POSE_METRICS])]
            out += ["|---|---|" + "---:|" * len(POSE_METRICS), *rows, ""]
    return out


def _trl3d(res: dict[str, Any]) -> list[str]:
    from vantage.bench.stats import fmt_mean_std

    seeds = res.get("bench_config", {}).get("seeds")
    out = [f"### 3DTRL (seeds {seeds}; top-1 %, mean ± std)", ""]
    out += [
        _row(["model", "seen views", "unseen poses", "perturbed", "depth rho", "abs rho"]),
        "|---|---:|---:|---:|---:|---:|",
    ]
    table = res.get("table", {})
    for name in [n for n in res.get("order", list(table)) if n in table]:
        t = table[name]
        d = t.get("pseudo_depth", {})
        top1 = [fmt_mean_std(t.get("top1", {}).get(c)) for c in ("seen_views", "unseen_poses", "perturbed")]
        out.append(
            _row([name, *top1, fmt_mean_std(d.get("spearman_mean"), 3), fmt_mean_std(d.get("abs_spearman_mean"), 3)])
        )
    return [*out, ""]


def _ovt(res: dict[str, Any]) -> list[str]:
    from vantage.bench.stats import fmt_mean_std
    from vantage.eval.zeroshot import ZEROSHOT_COLUMNS, zeroshot_table_rows

    seeds = res.get("bench_config", {}).get("seeds")
    title = f"### Omniview-Tuning, zero-shot (seeds {seeds}; top-1 %, mean ± std; Δ = variant minus base, same seed)"
    out = [title, ""]
    out += [_row(["model", *ZEROSHOT_COLUMNS]), "|---|" + "---:|" * len(ZEROSHOT_COLUMNS)]
    rows = zeroshot_table_rows(res.get("table", {}), fmt_mean_std, res.get("order"), res.get("deltas"))
    return [*out, *(_row(r) for r in rows), ""]


def markdown_report(results: dict[str, Any]) -> str:
    """Markdown for the method suites of a bench ``results.json`` (data suite omitted)."""
    lines = [
        f"Preset `{results.get('preset')}`, command `{results.get('command')}`, started {results.get('started')}.",
        "",
    ]
    suites = results.get("suites", {})
    for name, fn in (("pose_ssl", _pose_ssl), ("trl3d", _trl3d), ("ovt", _ovt)):
        if name in suites and not suites[name].get("error"):
            lines += fn(suites[name])
            lines.append(f"Suite time: {suites[name].get('seconds')} s.")
            lines.append("")
    return "\n".join(lines)
