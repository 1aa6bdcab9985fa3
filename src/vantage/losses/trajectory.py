"""Viewpoint-trajectory regularisation (pose-aware SSL, ECCV 2024): adjacent views on a local geodesic."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["trajectory_cosine", "trajectory_loss"]


def _degenerate_threshold(dtype: torch.dtype, eps: float | None) -> float:
    """Shortest projected step that still has a direction: ``eps`` if given, else 64 x the dtype's machine
    epsilon (float32: 7.6e-6). Steps of unit vectors are computed with rounding error of a few epsilon, so a
    threshold below that (e.g. an absolute 1e-8 in float32) lets rounding noise through as a "direction"."""
    return eps if eps is not None else 64 * torch.finfo(dtype).eps


def trajectory_cosine(
    z_l: torch.Tensor, z_c: torch.Tensor, z_r: torch.Tensor, eps: float | None = None
) -> torch.Tensor:
    """Per-triplet cosine between the two steps of a trajectory, measured in the tangent plane at the centre.

    Embeddings (B, D) are put on the unit sphere; v1 = z_C - z_L and v2 = z_R - z_C are projected onto the
    tangent plane at z_C (u_i = v_i - (v_i . z_C) z_C) and the cosine of u1 and u2 is returned (B,).

    Degenerate triplets, where a projected step is shorter than ``eps`` (default: relative to the dtype's
    precision; identical adjacent views, or a step along z_C such as an antipodal neighbour), get cosine 0 and
    no gradient: the step has no direction, so the loss says nothing about it.
    """
    if not (z_l.shape == z_c.shape == z_r.shape) or z_c.dim() != 2:
        raise ValueError(
            f"trajectory loss needs three (B, D) tensors of one shape, got {z_l.shape}, {z_c.shape}, {z_r.shape}"
        )
    z_l, z_c, z_r = (F.normalize(z, dim=-1) for z in (z_l, z_c, z_r))
    v1, v2 = z_c - z_l, z_r - z_c
    u1 = v1 - (v1 * z_c).sum(-1, keepdim=True) * z_c
    u2 = v2 - (v2 * z_c).sum(-1, keepdim=True) * z_c
    n1, n2 = u1.norm(dim=-1), u2.norm(dim=-1)
    tol = _degenerate_threshold(z_c.dtype, eps)
    ok = (n1 > tol) & (n2 > tol)
    denom = torch.where(ok, n1 * n2, torch.ones_like(n1))  # a safe denominator keeps masked gradients finite
    return torch.where(ok, (u1 * u2).sum(-1) / denom, torch.zeros_like(n1))


def trajectory_loss(z_l: torch.Tensor, z_c: torch.Tensor, z_r: torch.Tensor, eps: float | None = None) -> torch.Tensor:
    """L_traj = -cos(u1, u2), averaged over the batch (degenerate triplets count as 0; see trajectory_cosine).

    Minimal (-1) when the three embeddings lie in order on one great circle through z_C, i.e. when adjacent
    viewpoints map to a locally straight path on the feature hypersphere.
    """
    return -trajectory_cosine(z_l, z_c, z_r, eps).mean()
