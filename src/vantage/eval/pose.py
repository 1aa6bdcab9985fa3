"""Absolute-pose metrics: per-category kNN over discrete view indices, and geodesic errors in degrees."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vantage.eval.knn import knn_top1

__all__ = ["PoseScores", "absolute_pose_knn", "geodesic_deg"]


def geodesic_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in degrees between direction vectors (..., 3), accurate near 0 and 180 (atan2 form)."""
    cross = torch.linalg.cross(a, b, dim=-1).norm(dim=-1)
    return torch.rad2deg(torch.atan2(cross, (a * b).sum(-1)))


@dataclass
class PoseScores:
    """Absolute-pose results: top-1 over view indices, median geodesic error, accuracy within 30 degrees."""

    top1: float
    median_error_deg: float
    acc_30: float
    n: int
    errors_deg: torch.Tensor
    correct: torch.Tensor

    def as_dict(self) -> dict[str, float]:
        """JSON-able summary (percentages and degrees)."""
        return {
            "top1": round(100 * self.top1, 2),
            "median_error_deg": round(self.median_error_deg, 2),
            "acc_30": round(100 * self.acc_30, 2),
            "n": self.n,
        }


def absolute_pose_knn(
    bank: torch.Tensor,
    bank_views: torch.Tensor,
    bank_cats: torch.Tensor,
    query: torch.Tensor,
    query_dirs: torch.Tensor,
    query_cats: torch.Tensor,
    view_dirs: torch.Tensor,
    k: int = 200,
    temperature: float = 0.1,
) -> PoseScores:
    """Per-category weighted kNN over the view index (bank: train objects; queries: test objects).

    Bank labels are discrete view indices into ``view_dirs`` (V, 3), as in the paper (Fib(50): 50 bins).
    Queries carry their true camera direction ``query_dirs`` (Q, 3): the correct bin is the nearest view
    direction (the query's own for in-domain views; for unseen poses, e.g. Fib(100) queries against a Fib(50)
    bank, the closest seen pose), and every prediction also scores by its geodesic error to the truth.
    """
    preds = torch.empty(query.shape[0], dtype=torch.long)
    for c in torch.unique(query_cats).tolist():  # a loop over categories, not samples
        qm, bm = query_cats == c, bank_cats == c
        if not bm.any():
            raise ValueError(f"category index {c} has test queries but no bank items")
        preds[qm] = knn_top1(query[qm], bank[bm], bank_views[bm], view_dirs.shape[0], k, temperature)
    target = (query_dirs @ view_dirs.T).argmax(1)
    errors = geodesic_deg(view_dirs[preds], query_dirs)
    return PoseScores(
        top1=(preds == target).float().mean().item(),
        median_error_deg=errors.median().item(),
        acc_30=(errors <= 30.0).float().mean().item(),
        n=int(query.shape[0]),
        errors_deg=errors,
        correct=preds == target,
    )
