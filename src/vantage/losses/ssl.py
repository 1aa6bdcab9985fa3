"""SSL objectives (SimCLR, VICReg, SimSiam) from lightly's heads and losses, plus a supervised baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["SSL_METHODS", "SSL_METHOD_TABLE", "SSLMethod", "SSLObjective"]


@dataclass(frozen=True)
class SSLMethod:
    """One SSL method as parts: ``projector(in_dim, hidden_dim, proj_dim)``, an optional ``predictor(proj_dim)``
    (SimSiam: the loss is then applied both ways with a stop-gradient on the target) and
    ``loss(temperature, gather_distributed)``."""

    projector: Callable[[int, int, int], nn.Module]
    loss: Callable[[float, bool], nn.Module]
    predictor: Callable[[int], nn.Module] | None = None


def _simclr() -> SSLMethod:
    from lightly.loss import NTXentLoss
    from lightly.models.modules.heads import SimCLRProjectionHead

    return SSLMethod(
        projector=lambda i, h, p: SimCLRProjectionHead(i, h, p),
        loss=lambda t, g: NTXentLoss(temperature=t, gather_distributed=g),
    )


def _vicreg() -> SSLMethod:
    from lightly.loss import VICRegLoss
    from lightly.models.modules.heads import VICRegProjectionHead

    return SSLMethod(
        projector=lambda i, h, p: VICRegProjectionHead(i, h, p, num_layers=3),
        loss=lambda t, g: VICRegLoss(gather_distributed=g),
    )


def _simsiam() -> SSLMethod:
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules.heads import SimSiamPredictionHead, SimSiamProjectionHead

    return SSLMethod(
        projector=lambda i, h, p: SimSiamProjectionHead(i, h, p),
        loss=lambda t, g: NegativeCosineSimilarity(),
        predictor=lambda p: SimSiamPredictionHead(p, max(p // 4, 8), p),
    )


# name -> factory of its parts (factories keep lightly out of the import of this module)
SSL_METHOD_TABLE: dict[str, Callable[[], SSLMethod]] = {"simclr": _simclr, "vicreg": _vicreg, "simsiam": _simsiam}
SSL_METHODS = (*SSL_METHOD_TABLE, "supervised")


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
        if method not in SSL_METHODS:
            raise ValueError(f"SSL method must be one of {SSL_METHODS}, got {method!r}")
        self.method = method
        self.predictor: nn.Module | None = None
        if method == "supervised":
            if not num_classes:
                raise ValueError("the supervised baseline needs num_classes")
            self.projector: nn.Module = nn.Linear(in_dim, num_classes)
            self.criterion: nn.Module = nn.CrossEntropyLoss()
            return
        parts = SSL_METHOD_TABLE[method]()
        self.projector = parts.projector(in_dim, hidden_dim, proj_dim)
        if parts.predictor is not None:
            self.predictor = parts.predictor(proj_dim)
        self.criterion = parts.loss(temperature, gather_distributed)

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
