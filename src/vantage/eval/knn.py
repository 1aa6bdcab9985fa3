"""Vectorised weighted kNN classification (cosine similarity, exp(sim / T) votes), chunked over queries."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["knn_scores", "knn_top1"]


def knn_scores(
    query: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk: int = 4096,
) -> torch.Tensor:
    """Class scores (Q, num_classes): each of the k most cosine-similar bank items votes exp(sim / T) for
    its label (the weighted kNN of InstDisc / lightly's ``knn_predict``). No Python loop over samples."""
    if bank.shape[0] != bank_labels.shape[0]:
        raise ValueError(f"bank has {bank.shape[0]} rows but {bank_labels.shape[0]} labels")
    if bank.shape[0] == 0:
        raise ValueError("kNN bank is empty")
    q, b = F.normalize(query.float(), dim=1), F.normalize(bank.float(), dim=1)
    k = min(k, b.shape[0])
    out = []
    for start in range(0, q.shape[0], chunk):
        sim = q[start : start + chunk] @ b.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, bank_labels[top_idx], (top_sim / temperature).exp())
        out.append(votes)
    return torch.cat(out)


def knn_top1(
    query: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
) -> torch.Tensor:
    """Predicted labels (Q,) of :func:`knn_scores`."""
    return knn_scores(query, bank, bank_labels, num_classes, k, temperature).argmax(1)
