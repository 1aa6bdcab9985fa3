"""Shared metrics: the per-viewpoint accuracy map every evaluator reports, and the headline metrics of the
pose-aware SSL benchmark with their tables (torch is imported only by the accuracy map)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["POSE_METRICS", "lookup", "per_view_accuracy", "pose_table_markdown", "variant_table_rows"]

# column label -> path into one tap's result table (percentages)
POSE_METRICS = {
    "sem linear": "semantics/linear_top1",
    "sem kNN": "semantics/knn_top1",
    "abs in-domain": "in_domain/absolute/top1",
    "abs unseen-pose acc@30": "unseen_poses/absolute/acc_30",
    "abs unseen-cat": "unseen_categories/absolute/top1",
    "rel in-domain": "in_domain/relative/bin_top1",
    "rel unseen-pose": "unseen_poses/relative/bin_top1",
    "rel unseen-cat": "unseen_categories/relative/bin_top1",
    "COIL-20 rel az": "coil20/relative_azimuth/bin_top1",
}


def per_view_accuracy(correct: torch.Tensor, view_id: torch.Tensor, n_views: int | None = None) -> torch.Tensor:
    """Fraction correct per viewpoint (n_views,) from per-item hits and view ids (0 where a view has no item);
    ``n_views`` defaults to the largest view id + 1."""
    import torch

    n = int(view_id.max()) + 1 if n_views is None else n_views
    right = torch.zeros(n).index_add_(0, view_id, correct.float())
    return right / torch.bincount(view_id, minlength=n).clamp_min(1)


def lookup(table: dict[str, Any], path: str) -> Any:
    """The node at ``a/b/c`` in nested dicts, or None."""
    node: Any = table
    for p in path.split("/"):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def pose_table_markdown(table: dict[str, dict[str, Any]]) -> str:
    """One model's results as a markdown table: a row per tap, the headline metrics as columns."""
    head = "| tap | dim | " + " | ".join(POSE_METRICS) + " |"
    rule = "|---|---:|" + "---:|" * len(POSE_METRICS)
    rows = []
    for tap, t in table.items():
        cells = [lookup(t, path) for path in POSE_METRICS.values()]
        rows.append(
            f"| {tap} | {t.get('dim', '')} | " + " | ".join("-" if c is None else f"{c:.1f}" for c in cells) + " |"
        )
    return "\n".join([head, rule, *rows])


def variant_table_rows(
    agg: dict[str, dict[str, Any]], tap: str, fmt, order: list[str] | None = None
) -> list[list[str]]:
    """Rows [variant, cell...] for one tap of aggregated (mean/std) results, in ``order`` (default: as stored);
    ``fmt`` formats a leaf."""
    names = [n for n in (order or list(agg)) if n in agg]
    return [[n, *(fmt(lookup(agg[n], f"{tap}/{path}")) for path in POSE_METRICS.values())] for n in names]
