"""Video alignment metrics on known cases (and against scipy) and the time-contrastive losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from vantage.eval.alignment import alignment_metrics, kendall_tau_b, kendall_tau_reference, nearest_frames
from vantage.losses.time_contrastive import (
    cycle_consistency_loss,
    multiview_infonce,
    sample_tcn_frames,
    tcn_margin_loss,
)


def _seq(n: int = 30, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cumsum(torch.randn(n, d, generator=g), 0)  # a random walk: distinct, ordered frames


def test_identical_sequences_align_perfectly():
    z = _seq()
    m = alignment_metrics(z, z)
    assert m["align_err"] == 0 and m["cycle_err"] == 0 and m["tau"] == 1 and m["tau_b"] == 1


def test_reversed_sequence_has_tau_minus_one():
    z = _seq(n=20)
    m = alignment_metrics(z, z.flip(0))
    assert m["tau"] == -1 and m["tau_b"] == -1 and m["cycle_err"] == 0
    assert m["align_err"].item() == pytest.approx(np.mean(np.abs(np.arange(20) - np.arange(19, -1, -1))) / 20)


def test_constant_embedding_has_the_documented_value():
    n = 25
    m = alignment_metrics(_seq(n=n), torch.zeros(n, 8) + 1.0)
    c = alignment_metrics(torch.ones(n, 8), torch.ones(n, 8))  # every distance ties: argmin takes frame 0
    assert c["align_err"].item() == pytest.approx((n - 1) / (2 * n))
    assert c["cycle_err"].item() == pytest.approx((n - 1) / (2 * n))
    assert c["tau"] == -1 and math.isnan(c["tau_b"].item())  # ties: discordant for the reference, neutral in tau-b
    assert m["tau"] == -1


def test_taus_match_scipy_and_the_reference_formula():
    g = torch.Generator().manual_seed(3)
    nn = torch.randint(0, 12, (40, 30), generator=g)  # with ties
    ref = kendall_tau_reference(nn)
    tb = kendall_tau_b(nn)
    for k in range(40):
        x, y = np.arange(30), nn[k].numpy()
        assert tb[k].item() == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)
        conc = sum(y[i] < y[j] for i in range(30) for j in range(i + 1, 30))
        pairs = 30 * 29 / 2
        assert ref[k].item() == pytest.approx((conc - (pairs - conc)) / pairs)


def test_metrics_are_batched_over_view_pairs():
    z = torch.stack([_seq(seed=s) for s in range(4)])  # 4 "views" of unrelated content
    a, b = z[[0, 0, 1]], z[[1, 2, 3]]
    batched = alignment_metrics(a, b)
    for k in range(3):
        one = alignment_metrics(a[k], b[k])
        for key in one:
            assert batched[key][k].item() == pytest.approx(one[key].item(), nan_ok=True)
    assert nearest_frames(a, b).shape == (3, 30)
    with pytest.raises(ValueError, match="one shape"):
        alignment_metrics(a, b[:, :10])


def test_tcn_sampling_respects_the_window():
    idx = sample_tcn_frames(40, 3, 2000, torch.Generator().manual_seed(0))
    a, p, n = idx.unbind(1)
    assert ((p - a).abs() <= 3).all() and (p != a).all() and ((n - a).abs() > 3).all()
    assert idx.min() >= 0 and idx.max() < 40
    with pytest.raises(ValueError, match="too short"):
        sample_tcn_frames(7, 3, 1)


def test_faithful_tcn_loss_is_the_intended_formula():
    g = torch.Generator().manual_seed(0)
    v1, v2 = torch.randn(5, 3, 4, generator=g), torch.randn(5, 3, 4, generator=g)

    def d(x, y):
        return ((x - y) ** 2).sum(-1)

    (a1, p1, n1), (a2, p2, n2) = v1.unbind(1), v2.unbind(1)
    want = torch.relu(d(a1, a2) + d(p1, p2) + d(a1, p1) + d(a2, p2) + d(a1, p2) + d(a2, p1)
                      - d(a1, n2) - d(a2, n1) - d(a1, n1) - d(a2, n2) + 30).mean()  # fmt: skip
    torch.testing.assert_close(tcn_margin_loss(v1, v2), want)
    # the second view's positive and negative matter (the reference read them from view 1)
    moved = v2.clone()
    moved[:, 2] += 5
    assert tcn_margin_loss(v1, moved) != tcn_margin_loss(v1, v2)


def test_infonce_prefers_synchronised_embeddings_and_cycle_loss_is_finite():
    z = torch.nn.functional.one_hot(torch.arange(16), 16).float()
    aligned = torch.stack([z, z, z])  # 3 views, frames identified across views
    shuffled = torch.stack([z, z[torch.randperm(16, generator=torch.Generator().manual_seed(0))], z])
    assert multiview_infonce(aligned) < 0.01 < multiview_infonce(shuffled)
    assert multiview_infonce(aligned.unsqueeze(0).repeat(2, 1, 1, 1)) < 0.01
    x = _seq(n=12).requires_grad_(True)
    loss = cycle_consistency_loss(x, _seq(n=12, seed=1))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    assert cycle_consistency_loss(z, z) < cycle_consistency_loss(z, z.flip(0)) + 1e-6
