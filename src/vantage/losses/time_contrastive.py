"""Multi-view time-contrastive objectives for aligning synchronised videos from several cameras.

* ``tcn_margin_loss`` (faithful): the 3DTRL reference's intended multi-view TCN margin loss on squared L2
  distances of raw embeddings. Anchor a and positive p (within +-w frames of a) and negative n (outside the
  window) are taken at the same frame indices in two views 1 and 2:
  relu(d(a1,a2) + d(p1,p2) + d(a1,p1) + d(a2,p2) + d(a1,p2) + d(a2,p1)
       - [d(a1,n2) + d(a2,n1) + d(a1,n1) + d(a2,n2)] + margin).
  The reference code reads view 2's positive and negative from view 1; here each view's own frames are used.
* ``multiview_infonce`` (improved): L2-normalised embeddings; for every ordered pair of views, each frame's
  synchronised frame in the other view is its positive and the other frames its negatives (n-pairs /
  symmetric InfoNCE), averaged over pairs.
* ``cycle_consistency_loss`` (optional, TCC): soft nearest neighbour of each frame in the other view, then
  back; cross-entropy of cycling back to the start frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cycle_consistency_loss", "multiview_infonce", "sample_tcn_frames", "tcn_margin_loss"]


def sample_tcn_frames(length: int, window: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 3) frame indices (anchor, positive, negative) in a sequence of ``length`` frames: the positive is
    within +-``window`` of the anchor (not the anchor), the negative outside that window."""
    if length < 2 * window + 2:
        raise ValueError(f"a sequence of {length} frames is too short for window {window} (needs {2 * window + 2})")
    a = torch.randint(0, length, (n,), generator=generator)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])
    p = a + offsets[torch.randint(0, len(offsets), (n,), generator=generator)]
    p = torch.where((p < 0) | (p >= length), a - (p - a), p)  # reflect at the ends (stays within the window)
    outside = (torch.arange(length).unsqueeze(0) - a.unsqueeze(1)).abs() > window  # (n, length)
    weights = outside.float()
    neg = torch.multinomial(weights, 1, generator=generator).squeeze(1)
    return torch.stack([a, p, neg], 1)


def _d(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).pow(2).sum(-1)


def tcn_margin_loss(view1: torch.Tensor, view2: torch.Tensor, margin: float = 30.0) -> torch.Tensor:
    """The faithful multi-view TCN loss; ``view1``, ``view2`` (B, 3, D) hold the (anchor, positive, negative)
    embeddings of each view at the same frame indices. Mean over the batch."""
    if view1.shape != view2.shape or view1.dim() != 3 or view1.shape[1] != 3:
        raise ValueError(f"tcn_margin_loss needs two (B, 3, D) tensors, got {tuple(view1.shape)}, {tuple(view2.shape)}")
    a1, p1, n1 = view1.unbind(1)
    a2, p2, n2 = view2.unbind(1)
    pos = _d(a1, a2) + _d(p1, p2) + _d(a1, p1) + _d(a2, p2) + _d(a1, p2) + _d(a2, p1)
    neg = _d(a1, n2) + _d(a2, n1) + _d(a1, n1) + _d(a2, n2)
    return F.relu(pos - neg + margin).mean()


def multiview_infonce(z: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric multi-view InfoNCE over synchronised frames; ``z`` (V, T, D) embeddings of T frames seen by
    V >= 2 cameras (or (B, V, T, D) for a batch of clips). Mean over ordered view pairs (and clips)."""
    if z.dim() == 3:
        z = z.unsqueeze(0)
    b, v, t, _ = z.shape
    if v < 2 or t < 2:
        raise ValueError(f"multiview_infonce needs >= 2 views and >= 2 frames, got {v} views of {t} frames")
    z = F.normalize(z, dim=-1)
    logits = torch.einsum("bitd,bjsd->bijts", z, z) / temperature  # (B, V, V, T, T)
    off = ~torch.eye(v, dtype=torch.bool, device=z.device)
    pair_logits = logits[:, off]  # (B, V(V-1), T, T)
    target = torch.arange(t, device=z.device).expand(b, v * (v - 1), t)
    return F.cross_entropy(pair_logits.reshape(-1, t), target.reshape(-1))


def cycle_consistency_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """TCC cycle-back classification between two sequences (T, D) (L2-normalised here): each frame's soft
    nearest neighbour in z2, then the soft match of that back in z1 must be the frame itself."""
    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    alpha = torch.softmax(-torch.cdist(z1, z2).pow(2) / temperature, dim=-1)  # (T1, T2)
    soft = alpha @ z2  # (T1, D)
    logits = -torch.cdist(soft, z1).pow(2) / temperature  # (T1, T1)
    return F.cross_entropy(logits, torch.arange(len(z1), device=z1.device))
