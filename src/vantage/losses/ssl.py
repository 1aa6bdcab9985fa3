"""SSL objectives (SimCLR, VICReg, SimSiam) from lightly's heads and losses, plus a supervised baseline."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SSL_METHODS", "SSLObjective"]

SSL_METHODS = ("simclr", "vicreg", "simsiam", "supervised")


class SSLObjective(nn.Module):
    """Projection (and prediction) head + loss of one SSL method, applied to two views' pooled features.

    ``embed(h)`` maps pooled features to the space the method's loss works in (the projector output); the
    trajectory loss can be applied to the pooled feature or to this projection. ``supervised`` is a linear
    classifier with cross-entropy on the category labels (the paper's supervised baseline).
    Hyper-parameters follow the paper and lightly's defaults: NT-Xent temperature 0.5, VICReg 25/25/1.
    """

    def __init__(
        self,
        method: str,
        in_dim: int,
        proj_dim: int = 2048,
        hidden_dim: int = 2048,
        num_classes: int | None = None,
        temperature: float = 0.5,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        from lightly.loss import NegativeCosineSimilarity, NTXentLoss, VICRegLoss
        from lightly.models.modules.heads import (
            SimCLRProjectionHead,
            SimSiamPredictionHead,
            SimSiamProjectionHead,
            VICRegProjectionHead,
        )

        if method not in SSL_METHODS:
            raise ValueError(f"SSL method must be one of {SSL_METHODS}, got {method!r}")
        self.method = method
        self.predictor: nn.Module | None = None
        if method == "simclr":
            self.projector: nn.Module = SimCLRProjectionHead(in_dim, hidden_dim, proj_dim)
            self.criterion: nn.Module = NTXentLoss(temperature=temperature, gather_distributed=gather_distributed)
        elif method == "vicreg":
            self.projector = VICRegProjectionHead(in_dim, hidden_dim, proj_dim, num_layers=3)
            self.criterion = VICRegLoss(gather_distributed=gather_distributed)
        elif method == "simsiam":
            self.projector = SimSiamProjectionHead(in_dim, hidden_dim, proj_dim)
            self.predictor = SimSiamPredictionHead(proj_dim, max(proj_dim // 4, 8), proj_dim)
            self.criterion = NegativeCosineSimilarity()
        else:
            if not num_classes:
                raise ValueError("the supervised baseline needs num_classes")
            self.projector = nn.Linear(in_dim, num_classes)
            self.criterion = nn.CrossEntropyLoss()

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """The projector output for pooled features ``h`` (B, D)."""
        return self.projector(h)

    def forward(self, h1: torch.Tensor, h2: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The method's loss for two augmented views' pooled features (labels only for ``supervised``)."""
        if self.method == "supervised":
            if labels is None:
                raise ValueError("the supervised baseline needs labels")
            return 0.5 * (self.criterion(self.projector(h1), labels) + self.criterion(self.projector(h2), labels))
        z1, z2 = self.projector(h1), self.projector(h2)
        if self.predictor is None:
            return self.criterion(z1, z2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return 0.5 * (self.criterion(p1, z2.detach()) + self.criterion(p2, z1.detach()))
