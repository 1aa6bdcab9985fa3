"""Oracle tests for every evaluator: an encoder that leaks the label must score ~100, a constant one chance.

Features are real tensors built from the labels (the leak) or constant; image-level evaluators get a model that
memorises the evaluation images (so its "features" are the label) and a constant model.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vantage.data import filter_records, load_records
from vantage.eval import evaluate_classifier, knn_top1, linear_probe, load_image_bank
from vantage.eval.probes import relative_rotation_targets, sample_pairs, score_pair_probe, train_pair_probe
from vantage.eval.zeroshot import ZeroShotConfig, coil20_retrieval, load_zeroshot_data, zeroshot_benchmark
from vantage.geometry import fibonacci_sphere

C, N = 5, 400


def _labels(n: int = N, seed: int = 0) -> torch.Tensor:
    return torch.arange(n) % C


def _leak(labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(labels, C).float() * 5 + 0.1 * torch.randn(len(labels), C, generator=g)


def test_knn_oracle_and_constant():
    y_bank, y_query = _labels(), _labels(100)
    acc = (knn_top1(_leak(y_query, 1), _leak(y_bank), y_bank, C, k=20) == y_query).float().mean()
    assert acc > 0.99
    const = torch.ones(N, 8)
    acc = (knn_top1(torch.ones(100, 8), const, y_bank, C, k=20) == y_query).float().mean()
    assert abs(acc - 1 / C) < 0.02  # ties resolve to one class: exactly its share


def test_linear_probe_oracle_and_constant():
    y_tr, y_te = _labels(), _labels(100)
    assert linear_probe(_leak(y_tr), y_tr, _leak(y_te, 1), y_te, C, steps=200) > 0.99
    assert abs(linear_probe(torch.ones(N, 8), y_tr, torch.ones(100, 8), y_te, C, steps=200) - 1 / C) < 0.02


def test_relative_pose_probe_oracle_and_constant():
    g = torch.Generator().manual_seed(0)
    dirs = torch.from_numpy(fibonacci_sphere(8)).float()
    # 40 objects x 8 views; view v has camera rotation about z by 45 v degrees
    angles = torch.deg2rad(45.0 * (torch.arange(320) % 8).float())
    rot = torch.zeros(320, 3, 3)
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = angles.cos(), -angles.sin(), angles.sin(), angles.cos()
    rot[:, 2, 2] = 1
    groups = torch.arange(320) // 8
    leak = torch.cat([rot.flatten(1), 0.01 * torch.randn(320, 3, generator=g)], 1)  # the pose itself

    def targets(pairs):
        return relative_rotation_targets(rot, pairs, dirs)

    pairs = sample_pairs(groups, 20, seed=1)
    tg = targets(pairs)
    probe = train_pair_probe(leak, groups, targets, hidden=64, steps=600, seed=0)
    good = score_pair_probe(probe, leak, pairs, tg)
    probe = train_pair_probe(torch.ones(320, 12), groups, targets, hidden=64, steps=300, seed=0)
    bad = score_pair_probe(probe, torch.ones(320, 12), pairs, tg)
    majority = torch.bincount(tg.bins, minlength=tg.num_bins).max().item() / len(tg.bins) * 100
    assert good.as_dict()["bin_top1"] > 95 and good.as_dict()["angle_mae_deg"] < 10
    assert bad.as_dict()["bin_top1"] <= majority + 1e-6  # a constant input can do no better than the majority bin


def test_retrieval_oracle_and_constant():
    obj = torch.arange(60) // 12
    az = (torch.arange(60) % 12).float() * 30
    leak = F.normalize(F.one_hot(obj, 5).float() + 0.01 * torch.randn(60, 5), dim=-1)
    assert coil20_retrieval(leak, obj, az, [0, 90, 180])["top1"] == 1.0
    const = F.normalize(torch.ones(60, 5), dim=-1)  # every candidate ties: argmax takes the first allowed one
    assert coil20_retrieval(const, obj, az, [0, 90, 180])["top1"] < 0.5


class _Memoriser(nn.Module):
    """Outputs a one-hot (scaled) of the label of the stored image nearest to its input: a label leak."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: int, constant: bool = False) -> None:
        super().__init__()
        self.register_buffer("images", images.flatten(1))
        self.labels, self.classes, self.constant = labels, classes, constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.constant:
            return torch.zeros(len(x), self.classes)
        idx = torch.cdist(x.flatten(1), self.images).argmin(1)
        return 10 * F.one_hot(self.labels[idx], self.classes).float()


def test_classification_top1_oracle_and_constant(small_dataset):
    rows = filter_records(load_records(small_dataset), split="test", domain="in")
    classes = sorted({r.category for r in rows})
    bank = load_image_bank(small_dataset, rows, 32, classes)
    oracle = _Memoriser(bank.images, bank.category, len(classes))
    ev = evaluate_classifier(oracle, small_dataset, classes, 32, distortion=0.0)
    assert ev.top1["seen_views"] == pytest.approx(100) and ev.top1["unseen_poses"] == pytest.approx(100)
    ev = evaluate_classifier(_Memoriser(bank.images, bank.category, len(classes), True), small_dataset, classes, 32)
    assert all(abs(v - 100 / len(classes)) < 0.01 for v in ev.top1.values()), ev.top1  # one object per class


class _OracleCLIP(nn.Module):
    """encode_image leaks the label (nearest stored image); encode_text reads the class from the tokens."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: int, constant: bool = False) -> None:
        super().__init__()
        self.vision = _Memoriser(images, labels, classes, constant)
        self.classes = classes

    def encode_image(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        out = self.vision(x) + 1e-3
        return F.normalize(out, dim=-1) if normalize else out

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        out = F.one_hot(tokens, self.classes).float()
        return F.normalize(out, dim=-1) if normalize else out


def test_zeroshot_oracle_and_constant(small_dataset):
    cfg = ZeroShotConfig(templates="simple")
    data = load_zeroshot_data(small_dataset, 32, cfg)
    names = [c.replace("_", " ") for c in data.classes]

    def tokenizer(texts):
        return torch.tensor([next(i for i, n in enumerate(names) if n in t) for t in texts])

    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    banks = [data.clean, data.sphere, data.candidates]
    images = torch.cat([(b.images - mean) / std for b in banks])  # what the benchmark feeds encode_image
    labels = torch.cat([b.category for b in banks])
    good = zeroshot_benchmark(_OracleCLIP(images, labels, len(names)), tokenizer, data, cfg)
    for s in ("clean", "sphere", "worst_view"):
        assert good["sets"][s]["top1"] == pytest.approx(100)
    bad = zeroshot_benchmark(_OracleCLIP(images, labels, len(names), True), tokenizer, data, cfg)
    share = 100 * float((data.clean.category == 0).float().mean())
    assert bad["sets"]["clean"]["top1"] == pytest.approx(share) and bad["sets"]["worst_view"]["top1"] <= share
