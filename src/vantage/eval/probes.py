"""Probes on frozen features: a linear classifier, and a relative-pose MLP on pairs of views of one object.

Both train with Adam on mini-batches drawn from feature tensors already in memory (no per-sample Python
loop); features are standardised with the training set's mean and std.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vantage.eval.pose import geodesic_deg

__all__ = [
    "PairProbe",
    "PairSampler",
    "PairTargets",
    "RelativePoseScores",
    "Standardizer",
    "linear_probe",
    "relative_azimuth_targets",
    "relative_rotation_targets",
    "sample_pairs",
    "score_pair_probe",
    "train_pair_probe",
]


class Standardizer:
    """Per-feature standardisation with the mean and std of a reference (training) set."""

    def __init__(self, train: torch.Tensor) -> None:
        self.mean, self.std = train.mean(0), train.std(0).clamp_min(1e-6)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    steps: int = 500,
    batch_size: int = 256,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> float:
    """Top-1 of a linear classifier trained on frozen features (Adam, cosine-decayed lr)."""
    g = torch.Generator().manual_seed(seed)
    std = Standardizer(train_x.float())
    xtr, xte = std(train_x.float()), std(test_x.float())
    torch.manual_seed(seed)
    head = nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        idx = torch.randint(0, xtr.shape[0], (min(batch_size, xtr.shape[0]),), generator=g)
        loss = F.cross_entropy(head(xtr[idx]), train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return (head(xte).argmax(1) == test_y).float().mean().item()


class PairSampler:
    """Draws random ordered pairs of distinct rows that share a group (e.g. an object), vectorised."""

    def __init__(self, groups: torch.Tensor, seed: int = 0) -> None:
        self.order = torch.argsort(groups, stable=True)
        _, counts = torch.unique_consecutive(groups[self.order], return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        keep = counts >= 2  # a group with one row has no pair
        self.starts, self.counts = starts[keep], counts[keep]
        if self.counts.numel() == 0:
            raise ValueError("no group has two rows to pair")
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_groups(self) -> int:
        """Groups with at least two rows."""
        return self.counts.numel()

    def draw(self, n: int | None = None, per_group: int | None = None) -> torch.Tensor:
        """(P, 2) row indices: ``n`` pairs from uniformly chosen groups, or ``per_group`` from every group."""
        if per_group is not None:
            which = torch.arange(self.num_groups).repeat_interleave(per_group)
        else:
            which = torch.randint(0, self.num_groups, (n,), generator=self.generator)
        size = self.counts[which]
        first = (torch.rand(which.shape, generator=self.generator) * size).long()
        step = 1 + (torch.rand(which.shape, generator=self.generator) * (size - 1)).long()
        second = (first + step) % size  # never equal to first
        base = self.starts[which]
        return torch.stack([self.order[base + first], self.order[base + second]], 1)


def sample_pairs(groups: torch.Tensor, pairs_per_group: int, seed: int = 0) -> torch.Tensor:
    """(P, 2) row indices of ``pairs_per_group`` random ordered pairs of distinct rows from every group."""
    return PairSampler(groups, seed).draw(per_group=pairs_per_group)


@dataclass
class PairTargets:
    """Per-pair probe targets: a class bin and a scalar angle in degrees."""

    bins: torch.Tensor
    angle_deg: torch.Tensor
    num_bins: int
    bin_dirs: torch.Tensor | None = None  # (num_bins, 3) when bins are directions (for geodesic bin errors)


def relative_rotation_targets(rotation: torch.Tensor, pairs: torch.Tensor, bin_dirs: torch.Tensor) -> PairTargets:
    """Targets for pairs of camera-to-world rotations (N, 3, 3): R_rel = R_i^T R_j (camera j in camera i's
    frame). Bin = the nearest of ``bin_dirs`` (e.g. 50 Fibonacci directions) to R_rel's viewing axis (its
    third column); angle = the geodesic angle of R_rel."""
    rel = rotation[pairs[:, 0]].transpose(1, 2) @ rotation[pairs[:, 1]]
    axis = rel[:, :, 2]
    cos = ((rel.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    return PairTargets(
        bins=(axis @ bin_dirs.T).argmax(1),
        angle_deg=torch.rad2deg(torch.acos(cos)),
        num_bins=bin_dirs.shape[0],
        bin_dirs=bin_dirs,
    )


def relative_azimuth_targets(azimuth: torch.Tensor, pairs: torch.Tensor, num_bins: int = 12) -> PairTargets:
    """Targets for turntable pairs: bin = the signed azimuth change (j - i) in ``num_bins`` equal sectors of
    [0, 360); angle = its unsigned size in [0, 180] (the rotation angle about the turntable axis)."""
    delta = torch.remainder(azimuth[pairs[:, 1]] - azimuth[pairs[:, 0]], 360.0)
    return PairTargets(
        bins=(delta / (360.0 / num_bins)).floor().long().clamp_max(num_bins - 1),
        angle_deg=torch.minimum(delta, 360.0 - delta),
        num_bins=num_bins,
    )


@dataclass
class RelativePoseScores:
    """Relative-pose probe results on held-out pairs."""

    bin_top1: float
    angle_mae_deg: float
    angle_r2: float
    n: int
    bin_error_deg: float | None = None  # median geodesic error of the predicted bin's direction

    def as_dict(self) -> dict[str, float]:
        """JSON-able summary (percentages and degrees)."""
        d = {
            "bin_top1": round(100 * self.bin_top1, 2),
            "angle_mae_deg": round(self.angle_mae_deg, 2),
            "angle_r2": round(self.angle_r2, 4),
            "n": self.n,
        }
        if self.bin_error_deg is not None:
            d["bin_median_error_deg"] = round(self.bin_error_deg, 2)
        return d


class PairProbe(nn.Module):
    """MLP on the concatenated features of two views with a bin head and an angle-regression head."""

    def __init__(self, dim: int, num_bins: int, hidden: int = 512) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(2 * dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.bins = nn.Linear(hidden, num_bins)
        self.angle = nn.Linear(hidden, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(torch.cat([a, b], 1))
        return self.bins(h), self.angle(h).squeeze(1)


def train_pair_probe(
    feats: torch.Tensor,
    groups: torch.Tensor,
    targets: Callable[[torch.Tensor], PairTargets],
    hidden: int = 512,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> PairProbe:
    """Train a :class:`PairProbe`: every step draws fresh pairs of rows of one group (object) and their
    ``targets(pairs)``; loss = cross-entropy on the bin + MSE on the angle / 180 degrees. Fresh pairs keep
    the probe from memorising a fixed pair list. The caller standardises the features."""
    sampler = PairSampler(groups, seed)
    torch.manual_seed(seed)
    probe = PairProbe(feats.shape[1], targets(sampler.draw(2)).num_bins, hidden)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        p = sampler.draw(batch_size)
        t = targets(p)
        logits, pred = probe(feats[p[:, 0]], feats[p[:, 1]])
        loss = F.cross_entropy(logits, t.bins) + F.mse_loss(pred, t.angle_deg / 180.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return probe.eval()


@torch.no_grad()
def score_pair_probe(
    probe: PairProbe, feats: torch.Tensor, pairs: torch.Tensor, targets: PairTargets
) -> RelativePoseScores:
    """Bin top-1, angle MAE and R^2 of a trained probe on held-out pairs."""
    logits, pred = probe(feats[pairs[:, 0]], feats[pairs[:, 1]])
    pred_deg = pred.clamp(0, 1) * 180.0
    truth = targets.angle_deg
    ss_res = ((pred_deg - truth) ** 2).sum()
    ss_tot = ((truth - truth.mean()) ** 2).sum().clamp_min(1e-9)
    bins = logits.argmax(1)
    bin_err = None
    if targets.bin_dirs is not None:
        bin_err = geodesic_deg(targets.bin_dirs[bins], targets.bin_dirs[targets.bins]).median().item()
    return RelativePoseScores(
        bin_top1=(bins == targets.bins).float().mean().item(),
        angle_mae_deg=(pred_deg - truth).abs().mean().item(),
        angle_r2=(1 - ss_res / ss_tot).item(),
        n=int(pairs.shape[0]),
        bin_error_deg=bin_err,
    )
