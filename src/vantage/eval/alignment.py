"""Multi-view video alignment metrics (TCN / 3DTRL), vectorised over any number of view pairs.

For two synchronised sequences of length l with embeddings z1, z2, nn12(i) = argmin_j ||z1_i - z2_j||^2:

* alignment error = mean_i |i - nn12(i)| / l
* cycle error = mean_i |i - nn21(nn12(i))| / l
* Kendall's tau as the 3DTRL reference computes it: (C - (P - C)) / P with P = l(l-1)/2 and
  C = #{i < j : nn12(i) < nn12(j)}; ties count as discordant, so a collapsed embedding scores -1;
* Kendall's tau-b (scipy's, TCC's): ties neutral, (C - D) / sqrt(P (P - T)) with T the pairs tied in nn12;
  NaN when every frame maps to one frame.

Identical sequences give 0 / 0 / 1 / 1; a reversed one tau = tau-b = -1; a constant embedding (every distance
equal, argmin takes frame 0) gives alignment and cycle error (l - 1) / (2 l), tau -1 and tau-b NaN.
"""

from __future__ import annotations

import torch

__all__ = ["alignment_metrics", "kendall_tau_b", "kendall_tau_reference", "nearest_frames"]


def nearest_frames(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """(..., l1) index of each frame of z1's nearest frame of z2 in squared L2 (first index on ties);
    z1 (..., l1, D), z2 (..., l2, D)."""
    return torch.cdist(z1.float(), z2.float()).argmin(-1)


def _pair_counts(nn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(concordant, discordant, tied-in-nn) counts over pairs i < j of each row of nn (..., l); and P."""
    n = nn.shape[-1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=nn.device), diagonal=1)
    diff = nn.unsqueeze(-1) - nn.unsqueeze(-2)  # [i, j] = nn_i - nn_j
    conc = ((diff < 0) & upper).sum((-1, -2))
    disc = ((diff > 0) & upper).sum((-1, -2))
    tied = ((diff == 0) & upper).sum((-1, -2))
    return conc, disc, tied, n * (n - 1) // 2


def kendall_tau_reference(nn: torch.Tensor) -> torch.Tensor:
    """The reference's tau of frame order vs matched order, ties discordant; nn (..., l) -> (...,)."""
    conc, _, _, pairs = _pair_counts(nn)
    return (2 * conc - pairs).double() / pairs


def kendall_tau_b(nn: torch.Tensor) -> torch.Tensor:
    """Kendall's tau-b of frame order vs matched order (ties neutral, as scipy.stats.kendalltau); (...,)."""
    conc, disc, tied, pairs = _pair_counts(nn)
    denom = torch.sqrt(torch.tensor(float(pairs), dtype=torch.float64) * (pairs - tied).double())
    return torch.where(denom > 0, (conc - disc).double() / denom.clamp_min(1e-300), torch.nan)


def alignment_metrics(z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
    """Alignment error, cycle error, reference tau and tau-b of every pair (z1[k], z2[k]) of synchronised
    sequences: z1, z2 (..., l, D) -> each metric (...,) (float64)."""
    if z1.shape != z2.shape or z1.dim() < 2:
        raise ValueError(f"alignment needs two (..., l, D) tensors of one shape, got {tuple(z1.shape)}, "
                         f"{tuple(z2.shape)}")  # fmt: skip
    n = z1.shape[-2]
    if n < 2:
        raise ValueError(f"alignment needs sequences of at least 2 frames, got {n}")
    nn12, nn21 = nearest_frames(z1, z2), nearest_frames(z2, z1)
    frames = torch.arange(n, device=z1.device)
    back = torch.gather(nn21, -1, nn12)
    return {
        "align_err": ((frames - nn12).abs().double().mean(-1)) / n,
        "cycle_err": ((frames - back).abs().double().mean(-1)) / n,
        "tau": kendall_tau_reference(nn12),
        "tau_b": kendall_tau_b(nn12),
    }
