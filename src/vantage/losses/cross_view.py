"""Omniview-Tuning's cross-viewpoint alignment: the max step (per object, a density-weighted centre of its view
embeddings and the K views farthest from it, vectorised over a whole training set), its online EMA variant,
and the min-step alignment loss of mined outlier views to their centres."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "EMACentres",
    "MinedViews",
    "cross_view_loss",
    "mine_outlier_views",
    "mine_outlier_views_loop",
    "rank_within_group",
]

WEIGHTINGS = ("density", "inverse", "uniform")


@dataclass
class MinedViews:
    """Result of the max step: ``centres`` (O, D) unit vectors, ``outlier`` (N,) bool (the K views of each
    object least similar to its centre), ``weights`` (N,) each view's share of its object's centre,
    ``similarity`` (N,) cosine of each view to its centre."""

    centres: torch.Tensor
    outlier: torch.Tensor
    weights: torch.Tensor
    similarity: torch.Tensor


def _view_weights(density: torch.Tensor, weighting: str) -> torch.Tensor:
    """Unnormalised centre weights from each view's mean cosine to its nearest views."""
    if weighting == "density":  # the paper: views in dense regions of the object's embedding cloud count more
        return (1 + density).clamp_min(1e-6)
    if weighting == "inverse":  # the reference code: w ∝ 1/s (gives isolated views more weight)
        return 1.0 / density.clamp_min(1e-6)
    if weighting == "uniform":
        return torch.ones_like(density)
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def mine_outlier_views(
    embeddings: torch.Tensor,
    object_index: torch.Tensor,
    k_nn: int = 5,
    n_outliers: int = 5,
    weighting: str = "density",
    chunk: int = 256,
) -> MinedViews:
    """The max step over a whole set of view embeddings (N, D) with their objects (N,) in ``0..O-1``.

    Per object: each view's density is its mean cosine to its ``k_nn`` nearest other views; the centre is the
    density-weighted mean of the unit embeddings (renormalised); the ``n_outliers`` views with the lowest
    cosine to the centre are the outliers. Objects are padded to the largest view count and processed
    ``chunk`` objects at a time with batched matrix products."""
    if embeddings.ndim != 2 or object_index.shape != embeddings.shape[:1]:
        raise ValueError(f"need embeddings (N, D) and object_index (N,), got {tuple(embeddings.shape)} and "
                         f"{tuple(object_index.shape)}")  # fmt: skip
    z = F.normalize(embeddings.float(), dim=-1)
    n, d = z.shape
    n_obj = int(object_index.max()) + 1 if n else 0
    counts = torch.bincount(object_index, minlength=n_obj)
    order = torch.argsort(object_index, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(n) - starts[object_index[order]]  # position of each sorted view within its object
    v_max = int(counts.max()) if n else 0
    centres = torch.zeros(n_obj, d)
    weights, sims = torch.zeros(n), torch.zeros(n)
    outlier = torch.zeros(n, dtype=torch.bool)
    obj_sorted = object_index[order]
    equal = n > 0 and bool((counts == v_max).all())
    grouped = z[order].view(n_obj, v_max, d) if equal else None  # every object has v_max views: no padding
    for lo in range(0, n_obj, chunk):
        hi = min(n_obj, lo + chunk)
        if grouped is not None:
            rows = order[lo * v_max : hi * v_max]
            o, s = obj_sorted[lo * v_max : hi * v_max] - lo, slot[lo * v_max : hi * v_max]
            padded = grouped[lo:hi]
            valid = torch.ones(hi - lo, v_max, dtype=torch.bool)
        else:
            sel = (obj_sorted >= lo) & (obj_sorted < hi)
            rows, o, s = order[sel], obj_sorted[sel] - lo, slot[sel]
            padded = torch.zeros(hi - lo, v_max, d)
            padded[o, s] = z[rows]
            valid = torch.zeros(hi - lo, v_max, dtype=torch.bool)
            valid[o, s] = True
        cos = padded @ padded.transpose(1, 2)  # (C, V, V)
        eye = torch.eye(v_max, dtype=torch.bool)
        cos = cos.masked_fill(~valid[:, None, :] | eye, float("-inf"))
        k = max(1, min(k_nn, v_max - 1))
        top = cos.topk(k, dim=-1).values  # -inf where an object has fewer than k other views
        finite = torch.isfinite(top)
        density = torch.where(finite, top, torch.zeros_like(top)).sum(-1) / finite.sum(-1).clamp_min(1)
        w = _view_weights(density, weighting) * valid
        w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
        c = F.normalize(torch.bmm(w[:, None, :], padded)[:, 0], dim=-1)  # (C, D)
        sim = torch.bmm(padded, c[:, :, None])[..., 0]  # (C, V)
        rank = sim.masked_fill(~valid, float("inf")).argsort(dim=-1).argsort(dim=-1)
        centres[lo:hi] = c
        weights[rows], sims[rows] = w[o, s], sim[o, s]
        outlier[rows] = rank[o, s] < n_outliers
    return MinedViews(centres=centres, outlier=outlier, weights=weights, similarity=sims)


def mine_outlier_views_loop(
    embeddings: torch.Tensor, object_index: torch.Tensor, k_nn: int = 5, n_outliers: int = 5, weighting: str = "density"
) -> MinedViews:
    """The same max step, one object at a time in Python: the readable definition the vectorised version is
    checked and benchmarked against."""
    z = F.normalize(embeddings.float(), dim=-1)
    n_obj = int(object_index.max()) + 1
    centres = torch.zeros(n_obj, z.shape[1])
    weights, sims = torch.zeros(len(z)), torch.zeros(len(z))
    outlier = torch.zeros(len(z), dtype=torch.bool)
    order = torch.argsort(object_index, stable=True)  # group once, so the loop costs per object, not per scan
    groups = torch.split(order, torch.bincount(object_index, minlength=n_obj).tolist())
    for i, rows in enumerate(groups):
        if len(rows) == 0:
            continue
        zi = z[rows]
        cos = zi @ zi.T
        cos.fill_diagonal_(float("-inf"))
        k = max(1, min(k_nn, len(rows) - 1))
        top = cos.topk(k, dim=-1).values
        density = top.mean(-1) if len(rows) > 1 else torch.zeros(1)
        w = _view_weights(density, weighting)
        w = w / w.sum()
        c = F.normalize((w[:, None] * zi).sum(0), dim=0)
        sim = zi @ c
        centres[i], weights[rows], sims[rows] = c, w, sim
        outlier[rows[sim.argsort()[:n_outliers]]] = True
    return MinedViews(centres=centres, outlier=outlier, weights=weights, similarity=sims)


def rank_within_group(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Rank (0 = smallest) of each value among the values of its group, vectorised."""
    by_value = torch.argsort(values, stable=True)
    by_group = by_value[torch.argsort(groups[by_value], stable=True)]
    g = groups[by_group]
    first = torch.zeros_like(g, dtype=torch.bool)
    first[0:1] = True
    first[1:] = g[1:] != g[:-1]
    start = torch.cummax(torch.where(first, torch.arange(len(g)), torch.zeros_like(g)), 0).values
    ranks = torch.empty_like(groups)
    ranks[by_group] = torch.arange(len(g)) - start
    return ranks


class EMACentres(nn.Module):
    """Online variant of the max step: per-object centres updated from each batch by an exponential moving
    average, and the in-batch outliers (up to K views per object least similar to its centre)."""

    def __init__(self, n_objects: int, dim: int, momentum: float = 0.9) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"EMA momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.register_buffer("centres", torch.zeros(n_objects, dim))
        self.register_buffer("seen", torch.zeros(n_objects, dtype=torch.bool))

    @torch.no_grad()
    def update(self, embeddings: torch.Tensor, object_index: torch.Tensor) -> None:
        """Fold a batch of view embeddings into their objects' centres (first sighting: the batch mean)."""
        z = F.normalize(embeddings.detach().float(), dim=-1)
        sums = torch.zeros_like(self.centres).index_add_(0, object_index, z)
        present = torch.bincount(object_index, minlength=len(self.centres)) > 0
        mean = F.normalize(sums[present], dim=-1)
        old = self.centres[present]
        m = self.seen[present, None].float() * self.momentum  # first sighting: take the batch mean
        self.centres[present] = F.normalize(m * old + (1 - m) * mean, dim=-1)
        self.seen |= present

    def outliers(self, embeddings: torch.Tensor, object_index: torch.Tensor, k: int) -> torch.Tensor:
        """(B,) bool: per object in the batch, its ``k`` views least similar to the object's centre."""
        sim = (F.normalize(embeddings.detach().float(), dim=-1) * self.centres[object_index]).sum(-1)
        return rank_within_group(sim, object_index) < k


def cross_view_loss(
    embeddings: torch.Tensor, centres: torch.Tensor, select: torch.Tensor | None = None, margin: float = 0.3
) -> torch.Tensor:
    """Mean of ``relu(1 - cos(z, c) + margin)`` over the selected views (each row of ``centres`` is the
    centre of the matching view's object); zero when nothing is selected. As in the paper, ``1 - cos >= 0``
    makes the margin a constant offset: it changes the value, not the gradient."""
    cos = F.cosine_similarity(embeddings, centres.to(embeddings.dtype), dim=-1)
    per_view = F.relu(1 - cos + margin)
    if select is not None:
        per_view = per_view[select]
    return per_view.mean() if per_view.numel() else embeddings.sum() * 0.0
