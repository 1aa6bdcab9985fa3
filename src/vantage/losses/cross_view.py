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


def _check_mining_args(object_index: torch.Tensor, k_nn: int, n_outliers: int) -> None:
    """Clear errors for object ids that are not non-negative integers and for non-positive counts."""
    if object_index.is_floating_point() or object_index.is_complex() or object_index.dtype == torch.bool:
        raise ValueError(f"object_index must hold integer object ids, got dtype {object_index.dtype}")
    if len(object_index) and int(object_index.min()) < 0:
        raise ValueError(f"object_index must be >= 0, got {int(object_index.min())}")
    if k_nn < 1 or n_outliers < 1:
        raise ValueError(f"k_nn and n_outliers must be >= 1, got {k_nn} and {n_outliers}")


def mine_outlier_views(
    embeddings: torch.Tensor,
    object_index: torch.Tensor,
    k_nn: int = 5,
    n_outliers: int = 5,
    weighting: str = "density",
    chunk: int | None = None,
) -> MinedViews:
    """The max step over a whole set of view embeddings (N, D) with their objects (N,) in ``0..O-1``.

    Per object: each view's density is its mean cosine to its ``k_nn`` nearest other views; the centre is the
    density-weighted mean of the unit embeddings (renormalised); the ``n_outliers`` views with the lowest
    cosine to the centre are the outliers. Objects are grouped, padded to the largest view count and processed
    ``chunk`` objects at a time (default: about 4,096 views, so a chunk stays in cache) with batched matrix
    products; the norms come from the Gram matrix's diagonal, so no normalised copy of the set is made."""
    if embeddings.ndim != 2 or object_index.shape != embeddings.shape[:1]:
        raise ValueError(f"need embeddings (N, D) and object_index (N,), got {tuple(embeddings.shape)} and "
                         f"{tuple(object_index.shape)}")  # fmt: skip
    _check_mining_args(object_index, k_nn, n_outliers)
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 objects (or None: automatic), got {chunk}")
    x = embeddings.float()
    n, d = x.shape
    n_obj = int(object_index.max()) + 1 if n else 0
    counts = torch.bincount(object_index, minlength=n_obj)
    order = torch.argsort(object_index, stable=True)
    bounds = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]).tolist()  # object i: rows bounds[i]:bounds[i+1]
    v_max = int(counts.max()) if n else 0
    equal = n > 0 and bool((counts == v_max).all())
    chunk = chunk or max(1, 4096 // max(v_max, 1))
    dev = x.device
    centres = x.new_zeros(n_obj, d)
    weights, sims = x.new_zeros(n), x.new_zeros(n)
    outlier = torch.zeros(n, dtype=torch.bool, device=dev)
    k = max(1, min(k_nn, v_max - 1))
    eye = torch.eye(v_max, dtype=torch.bool, device=dev)
    for lo in range(0, n_obj, chunk):
        hi = min(n_obj, lo + chunk)
        rows = order[bounds[lo] : bounds[hi]]
        if equal:  # every object has v_max views: no padding
            padded = x.index_select(0, rows).view(hi - lo, v_max, d)
            valid = torch.ones(hi - lo, v_max, dtype=torch.bool, device=dev)
            o = s = None
        else:
            c_counts = counts[lo:hi]
            o = torch.repeat_interleave(torch.arange(hi - lo, device=dev), c_counts)
            s = torch.arange(len(rows), device=dev) - (torch.cumsum(c_counts, 0) - c_counts)[o]  # slot in object
            padded = x.new_zeros(hi - lo, v_max, d)
            padded[o, s] = x[rows]
            valid = torch.zeros(hi - lo, v_max, dtype=torch.bool, device=dev)
            valid[o, s] = True
        gram = torch.bmm(padded, padded.transpose(1, 2))  # (C, V, V)
        inv = gram.diagonal(dim1=1, dim2=2).sqrt().clamp_min(1e-12).reciprocal()  # 1 / |z|, as F.normalize
        cos = (gram * inv[:, :, None] * inv[:, None, :]).masked_fill_(~valid[:, None, :] | eye, float("-inf"))
        top = cos.topk(k, dim=-1).values  # -inf where an object has fewer than k other views
        finite = torch.isfinite(top)
        density = torch.where(finite, top, torch.zeros_like(top)).sum(-1) / finite.sum(-1).clamp_min(1)
        w = _view_weights(density, weighting) * valid
        w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
        c = F.normalize(torch.bmm((w * inv)[:, None, :], padded)[:, 0], dim=-1)  # (C, D)
        sim = torch.bmm(padded, c[:, :, None])[..., 0] * inv  # (C, V)
        lowest = sim.masked_fill(~valid, float("inf")).topk(min(n_outliers, v_max), dim=-1, largest=False).indices
        flag = torch.zeros_like(valid).scatter_(1, lowest, True) & valid
        centres[lo:hi] = c
        if equal:
            weights[rows], sims[rows], outlier[rows] = w.flatten(), sim.flatten(), flag.flatten()
        else:
            weights[rows], sims[rows], outlier[rows] = w[o, s], sim[o, s], flag[o, s]
    return MinedViews(centres=centres, outlier=outlier, weights=weights, similarity=sims)


def mine_outlier_views_loop(
    embeddings: torch.Tensor, object_index: torch.Tensor, k_nn: int = 5, n_outliers: int = 5, weighting: str = "density"
) -> MinedViews:
    """The same max step, one object at a time in Python: the readable definition the vectorised version is
    checked and benchmarked against."""
    _check_mining_args(object_index, k_nn, n_outliers)
    z = F.normalize(embeddings.float(), dim=-1)
    n_obj = int(object_index.max()) + 1
    centres = z.new_zeros(n_obj, z.shape[1])
    weights, sims = z.new_zeros(len(z)), z.new_zeros(len(z))
    outlier = torch.zeros(len(z), dtype=torch.bool, device=z.device)
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
        density = top.mean(-1) if len(rows) > 1 else z.new_zeros(1)
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
