"""Weighted kNN and absolute-pose metrics against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vantage.eval import absolute_pose_knn, geodesic_deg, knn_scores, knn_top1
from vantage.geometry import angle_between, fibonacci_sphere


def _brute_force(query, bank, labels, num_classes, k, t):
    out = torch.zeros(len(query), num_classes)
    for i, q in enumerate(query):  # the slow, obvious version
        sims = torch.nn.functional.cosine_similarity(q[None], bank)
        order = sims.argsort(descending=True)[:k]
        for j in order:
            out[i, labels[j]] += torch.exp(sims[j] / t)
    return out


def test_knn_matches_brute_force_and_chunking():
    g = torch.Generator().manual_seed(0)
    bank, query = torch.randn(60, 8, generator=g), torch.randn(13, 8, generator=g)
    labels = torch.randint(0, 4, (60,), generator=g)
    ref = _brute_force(query, bank, labels, 4, 7, 0.1)
    torch.testing.assert_close(knn_scores(query, bank, labels, 4, k=7), ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(knn_scores(query, bank, labels, 4, k=7, chunk=5), ref, rtol=1e-4, atol=1e-4)
    assert knn_scores(query, bank, labels, 4, k=1000).shape == (13, 4)  # k larger than the bank is clipped
    with pytest.raises(ValueError, match="labels"):
        knn_scores(query, bank, labels[:5], 4)


def test_knn_recovers_clusters():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(5, 16, generator=g) * 5
    labels = torch.arange(5).repeat_interleave(20)
    bank = centres[labels] + torch.randn(100, 16, generator=g)
    query = centres + 0.5 * torch.randn(5, 16, generator=g)
    assert torch.equal(knn_top1(query, bank, labels, 5, k=10), torch.arange(5))


def test_geodesic_matches_numpy_geometry():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randn(50, 3, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(geodesic_deg(a, b).numpy(), angle_between(a.numpy(), b.numpy()), atol=1e-9)


def test_absolute_pose_on_a_pose_revealing_feature():
    dirs = torch.tensor(fibonacci_sphere(50), dtype=torch.float32)
    views = torch.arange(50).repeat(6)
    cats = torch.arange(2).repeat_interleave(150)
    # A feature that encodes the camera direction (plus a category offset) must get pose right.
    feats = torch.cat([dirs[views] * 10, cats[:, None].float()], 1)
    scores = absolute_pose_knn(feats, views, cats, feats + 0.01, dirs[views], cats, dirs, k=3)
    assert scores.top1 == 1.0 and scores.median_error_deg < 1e-3 and scores.acc_30 == 1.0
    assert scores.correct.all()
    # A constant feature cannot: accuracy at chance level, large errors.
    flat = torch.ones(300, 4)
    bad = absolute_pose_knn(flat, views, cats, flat, dirs[views], cats, dirs, k=50)
    assert (
        bad.top1 < 0.1
        and bad.median_error_deg > 40
        and set(bad.as_dict()) == {"top1", "median_error_deg", "acc_30", "n"}
    )


def test_unseen_poses_score_against_the_nearest_seen_pose():
    seen = torch.tensor(fibonacci_sphere(50), dtype=torch.float32)
    unseen = torch.tensor(fibonacci_sphere(100), dtype=torch.float32)
    views = torch.arange(50).repeat(3)
    cats = torch.zeros(150, dtype=torch.long)
    # The feature is the direction itself: each unseen pose finds its nearest seen pose.
    scores = absolute_pose_knn(seen[views] * 10, views, cats, unseen * 10, unseen, cats[:100], seen, k=1)
    nearest = (unseen @ seen.T).argmax(1)
    assert scores.top1 == 1.0
    # Errors are measured to the true unseen direction, so they are the gaps to the nearest seen pose (> 0).
    torch.testing.assert_close(scores.errors_deg, geodesic_deg(seen[nearest], unseen))
    assert 0 < scores.median_error_deg < 25
