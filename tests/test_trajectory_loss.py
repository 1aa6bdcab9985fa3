"""The trajectory loss: the paper's form, its extremes, degenerate triplets, float64 gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

from vantage.losses import trajectory_loss
from vantage.losses.trajectory import trajectory_cosine


def _great_circle(theta: torch.Tensor, step: float, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))
    a, b = basis[:, 0], basis[:, 1]

    def point(t):
        return torch.cos(t)[:, None] * a + torch.sin(t)[:, None] * b

    return point(theta - step), point(theta), point(theta + step)


def test_on_a_geodesic_the_loss_is_minus_one():
    zl, zc, zr = _great_circle(torch.linspace(0, 3, 8, dtype=torch.float64), 0.1)
    torch.testing.assert_close(trajectory_loss(3.0 * zl, zc, 0.5 * zr), torch.tensor(-1.0, dtype=torch.float64))


def test_turning_back_is_plus_one_and_a_right_angle_is_zero():
    zl, zc, _ = _great_circle(torch.zeros(4, dtype=torch.float64), 0.2)
    torch.testing.assert_close(trajectory_loss(zl, zc, zl), torch.tensor(1.0, dtype=torch.float64))
    e = torch.eye(3, dtype=torch.float64)
    c = e[2:3]
    left = c - 0.1 * e[0:1]
    right = c + 0.1 * e[1:2]
    torch.testing.assert_close(
        trajectory_loss(left, c, right), torch.tensor(0.0, dtype=torch.float64), atol=1e-12, rtol=0
    )


def test_matches_the_formula_by_hand():
    g = torch.Generator().manual_seed(1)
    zl, zc, zr = (torch.randn(5, 7, generator=g, dtype=torch.float64) for _ in range(3))
    n = [z / z.norm(dim=1, keepdim=True) for z in (zl, zc, zr)]
    v1, v2 = n[1] - n[0], n[2] - n[1]
    u1 = v1 - (v1 * n[1]).sum(1, keepdim=True) * n[1]
    u2 = v2 - (v2 * n[1]).sum(1, keepdim=True) * n[1]
    expected = -((u1 * u2).sum(1) / (u1.norm(dim=1) * u2.norm(dim=1))).mean()
    torch.testing.assert_close(trajectory_loss(zl, zc, zr), expected)


def test_degenerate_triplets_are_finite_and_silent():
    z = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    loss = trajectory_loss(z, z, z)  # identical views: both steps are zero
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(z.grad).all() and z.grad.abs().max() == 0
    zc = torch.randn(2, 8, dtype=torch.float64)
    zl = (2.0 * zc).requires_grad_()  # same direction as the centre: a zero tangent step
    zr = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    cos = trajectory_cosine(zl, zc, zr)
    cos.sum().backward()
    assert torch.equal(cos, torch.zeros(2, dtype=torch.float64))
    assert torch.isfinite(zl.grad).all() and torch.isfinite(zr.grad).all()
    mixed = trajectory_cosine(torch.cat([zl.detach(), zc]), torch.cat([zc, zc]), torch.cat([zr.detach(), zc + 1]))
    assert torch.isfinite(mixed).all()


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(2)
    inputs = tuple(torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(trajectory_loss, inputs)


def test_shape_errors():
    with pytest.raises(ValueError, match="three"):
        trajectory_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4))


def test_descending_the_loss_straightens_a_bent_path():
    zl, zc, zr = _great_circle(torch.zeros(1, dtype=torch.float64), 0.3)
    bend = torch.zeros_like(zr)
    bend[0, 5] = 0.3
    zr = (zr + bend).requires_grad_()
    opt = torch.optim.SGD([zr], lr=0.5)
    before = trajectory_loss(zl, zc, zr).item()
    for _ in range(50):
        opt.zero_grad()
        trajectory_loss(zl, zc, zr).backward()
        opt.step()
    after = trajectory_loss(zl, zc, zr).item()
    assert before > -0.9 and after < -0.999 and not math.isnan(after)


def test_antipodal_step_is_masked_in_float32():
    # z_L = -z_C exactly: the step z_C - z_L lies along z_C, so its tangent part is zero up to float32 rounding
    # (~1e-7), which an absolute eps of 1e-8 let through with gradients ~1e5. The relative threshold masks it.
    from vantage.losses.trajectory import trajectory_cosine

    g = torch.Generator().manual_seed(0)
    z_c = torch.nn.functional.normalize(torch.randn(64, 128, generator=g), dim=-1)
    z_l = (-z_c).clone().requires_grad_(True)
    z_r = torch.nn.functional.normalize(z_c + 0.3 * torch.randn(64, 128, generator=g), dim=-1)
    cos = trajectory_cosine(z_l, z_c, z_r)
    assert torch.all(cos == 0)
    cos.sum().backward()
    assert torch.isfinite(z_l.grad).all() and z_l.grad.abs().max() < 1e-3
