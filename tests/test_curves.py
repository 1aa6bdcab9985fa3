"""Learning curves: the held-out probe (oracles), the CSV reader across resumes, and the competence rows."""

from __future__ import annotations

import torch

from vantage.bench.curves import read_curve
from vantage.bench.findings import Claim, competence_rows
from vantage.train.probe import top1_probe


class _Leak(torch.nn.Module):
    """Reads the label hidden in the first pixel: an oracle."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), self.k).float() + self.w


def test_probe_oracles_score_100_and_chance():
    labels = torch.arange(40) % 4
    x = torch.zeros(40, 3, 8, 8)
    x[:, 0, 0, 0] = labels.float()
    leak = top1_probe(x, labels, lambda m, v: m(v), batch_size=7)
    assert leak(_Leak(4)) == 100.0
    const = top1_probe(torch.zeros_like(x), labels, lambda m, v: m(v))
    assert const(_Leak(4)) == 25.0  # always class 0: chance for 4 balanced classes


def test_read_curve_joins_resumed_versions(tmp_path):
    for v, rows in ((0, "epoch,probe/fit_top1,step,train/loss\n0,,4,2.2\n,30.0,5,\n"),
                    (1, "epoch,probe/fit_top1,step,train/loss\n1,,9,1.1\n,80.0,10,\n1,,12,nan\n")):  # fmt: skip
        d = tmp_path / "logs" / f"version_{v}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text(rows)
    curve = read_curve(tmp_path)
    assert curve["loss"] == [(4, 2.2), (9, 1.1)]  # the non-finite row is dropped
    assert curve["fit_top1"] == [(5, 30.0), (10, 80.0)]


def test_competence_rows_put_curve_ends_beside_the_verdict_score():
    claim = Claim("x", ("v", "m"), "+1", competence=("table", "base", "top1"), chance="chance_top1")
    result = {"chance_top1": 11.1, "labels": {"base": "TimeSformer"},
              "table": {"base": {"top1": {"mean": 64.0, "n": 3}}},
              "curves": {"final": {"base": {"loss": 0.25, "fit_top1": 98.0, "seeds": 3}}}}  # fmt: skip
    (row,) = competence_rows((claim,), result)
    assert row == ["TimeSformer", "0.250", "fit_top1 98.0", "64.0 (top1)", "11.1"]


def test_a_negative_curve_point_count_is_one_clear_error():
    import pytest

    from vantage.train import ClassifyTrainConfig

    with pytest.raises(ValueError, match="curve_points must be an integer >= 0, got -1"):
        ClassifyTrainConfig(curve_points=-1)
