"""The semantic + pose benchmark: pair sampling, relative-pose targets, probes, the full evaluation on real
rendered data, and seed aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vantage.bench.stats import aggregate_seeds
from vantage.data import filter_records, load_records
from vantage.data.transforms import to_tensor
from vantage.eval import (
    PoseEvalConfig,
    evaluate_pose_ssl,
    linear_probe,
    load_image_bank,
    load_pose_eval_data,
    pose_table_markdown,
    relative_azimuth_targets,
    relative_rotation_targets,
    sample_pairs,
    score_pair_probe,
    train_pair_probe,
)
from vantage.geometry import fibonacci_sphere, look_at, rotation_angle
from vantage.models import FeatureExtractor, create_backbone
from vantage.report import fmt_mean_std


def test_pairs_are_distinct_rows_of_one_group():
    groups = torch.tensor([3, 3, 3, 7, 7, 9, 1, 1, 1, 1])  # 9 has a single row: never paired
    pairs = sample_pairs(groups, 50, seed=0)
    assert pairs.shape == (3 * 50, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all() and (groups[pairs[:, 0]] == groups[pairs[:, 1]]).all()
    assert 5 not in pairs
    counts = torch.bincount(groups[pairs[:, 0]])
    assert counts[3] == counts[7] == counts[1] == 50
    assert torch.equal(pairs, sample_pairs(groups, 50, seed=0))  # seeded
    with pytest.raises(ValueError, match="two rows"):
        sample_pairs(torch.tensor([0, 1, 2]), 5)


def test_relative_rotation_targets_match_geometry():
    dirs = fibonacci_sphere(20)
    rot = torch.tensor(np.stack([look_at(d * 3.0)[:3, :3] for d in dirs]), dtype=torch.float32)
    pairs = sample_pairs(torch.zeros(20, dtype=torch.long), 40, seed=1)
    bins = torch.tensor(fibonacci_sphere(50), dtype=torch.float32)
    t = relative_rotation_targets(rot, pairs, bins)
    for (i, j), angle in zip(pairs.tolist(), t.angle_deg.tolist(), strict=True):
        expected = rotation_angle(rot[i].numpy(), rot[j].numpy())
        assert abs(angle - expected) < 0.05
    same = relative_rotation_targets(rot, torch.tensor([[4, 4]]), bins)  # identity: angle 0, axis +z
    assert same.angle_deg.item() < 0.05 and same.bins.item() == (bins @ torch.tensor([0.0, 0, 1])).argmax().item()


def test_relative_azimuth_targets_wrap():
    az = torch.tensor([0.0, 350.0, 10.0, 180.0])
    t = relative_azimuth_targets(az, torch.tensor([[0, 1], [1, 0], [1, 2], [0, 3]]), num_bins=12)
    assert t.angle_deg.tolist() == pytest.approx([10.0, 10.0, 20.0, 180.0])
    assert t.bins.tolist() == [11, 0, 0, 6]  # signed change: -10 -> last sector, +10 -> first


def test_linear_probe_separates_separable_classes():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=g) * 4
    ytr, yte = torch.arange(4).repeat(50), torch.arange(4).repeat(10)
    xtr = centres[ytr] + torch.randn(200, 16, generator=g)
    xte = centres[yte] + torch.randn(40, 16, generator=g)
    assert linear_probe(xtr, ytr, xte, yte, 4, steps=200) > 0.95
    assert linear_probe(torch.randn(200, 16, generator=g), ytr, xte, yte, 4, steps=200) < 0.6  # noise: no


def test_pair_probe_learns_relative_pose_from_pose_revealing_features():
    """Features that carry each view's camera rotation let the probe predict relative rotation on unseen
    objects; features without pose information do not."""
    dirs = fibonacci_sphere(50)
    rot = torch.tensor(np.stack([look_at(d * 3.0)[:3, :3] for d in dirs]), dtype=torch.float32)
    objects = torch.arange(12).repeat_interleave(50)
    rots = rot.repeat(12, 1, 1)
    g = torch.Generator().manual_seed(0)
    feats = torch.cat([rots.flatten(1), 0.05 * torch.randn(600, 4, generator=g)], 1)
    bins = torch.tensor(fibonacci_sphere(50), dtype=torch.float32)
    train, test = objects < 8, objects >= 8

    def run(f):
        probe = train_pair_probe(
            f[train], objects[train], lambda p: relative_rotation_targets(rots[train], p, bins), 128, 800, lr=3e-3
        )
        p = torch.nonzero(test).squeeze(1)[sample_pairs(objects[test], 100, seed=3)]
        return score_pair_probe(probe, f, p, relative_rotation_targets(rots, p, bins))

    good, bad = run(feats), run(torch.randn(600, 13, generator=g))
    assert good.angle_r2 > 0.8 and good.angle_mae_deg < 15 and good.bin_top1 > 0.3
    assert bad.angle_r2 < 0.2 and bad.bin_top1 < 0.1 and good.bin_error_deg < bad.bin_error_deg


def test_image_bank_matches_the_training_transform(small_dataset):
    rows = filter_records(load_records(small_dataset), split="test", view_set="fib50")[:7]
    bank = load_image_bank(small_dataset, rows, 16, ["airplane", "car", "chair", "mug", "guitar"])
    ds_tf = to_tensor(16)
    from PIL import Image

    for k in (0, 6):
        with Image.open(small_dataset / rows[k].file_name) as im:
            torch.testing.assert_close(bank.images[k], ds_tf(im.convert("RGB")), atol=1e-5, rtol=0)
    assert bank.images.shape == (7, 3, 16, 16) and bank.direction.shape == (7, 3)
    assert torch.allclose(bank.direction.norm(dim=1), torch.ones(7), atol=1e-5)


def test_full_evaluation_on_rendered_and_real_data(small_dataset, turntable):
    cfg = PoseEvalConfig(
        taps=["pooled", "conv3"], image_size=16, linear_steps=30, pair_steps=30, pair_hidden=32, pairs_per_object=8
    )
    data = load_pose_eval_data(small_dataset, cfg, turntable)
    assert set(data.banks) == {"train", "test50", "test100", "ood50", "real:coil20"} and data.view_dirs.shape == (50, 3)
    torch.manual_seed(0)
    extractor = FeatureExtractor(create_backbone("resnet18", stem="cifar_pool", channels=(8, 16, 16, 32)))
    result = evaluate_pose_ssl(extractor, data, cfg)
    for tap in ("pooled", "conv3"):
        t = result.table[tap]
        assert 0 <= t["semantics"]["linear_top1"] <= 100 and 0 <= t["semantics"]["knn_top1"] <= 100
        assert t["in_domain"]["absolute"]["n"] == 3 * 50 and t["unseen_poses"]["absolute"]["n"] == 3 * 100
        # one object per out-of-domain category here: no bank for absolute pose, said so
        assert "skipped" in t["unseen_categories"]["absolute"]
        assert 0 <= t["unseen_categories"]["relative"]["angle_mae_deg"] <= 180
        assert t["coil20"]["relative_azimuth"]["n"] == 3 * 8 * 4  # pairs of the 3 held-out objects (of 6)
        assert result.arrays[f"{tap}/in_domain/per_view_top1"].shape == (50,)
    assert result.table["conv3"]["dim"] == 16 * 2 * 2  # 16 px, max-pool, two stride-2 stages: a 2x2 map
    # The same encoder and seed give the same numbers (nothing unseeded in the evaluation).
    again = evaluate_pose_ssl(extractor, data, cfg)
    assert again.table == result.table
    assert "| conv3 |" in pose_table_markdown(result.table)
    with pytest.raises(ValueError, match="unknown feature tap"):
        evaluate_pose_ssl(extractor, data, cfg, taps=["conv9"])


def test_seed_aggregation():
    agg = aggregate_seeds(
        [{"a": {"x": 1.0, "s": "skip"}, "b": 2}, {"a": {"x": 3.0, "s": "skip"}, "b": 4}, {"a": {"x": 5.0}}]
    )
    assert agg["a"]["x"] == {"mean": 3.0, "std": 2.0, "n": 3}
    assert agg["b"]["n"] == 2 and agg["a"]["s"] == "skip"
    assert fmt_mean_std(agg["a"]["x"]) == "3.0 ± 2.0" and fmt_mean_std({"mean": 1.0, "std": 0, "n": 1}) == "1.0"
    assert fmt_mean_std(None) == "-"
