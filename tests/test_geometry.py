"""Property tests of the viewpoint geometry (hypothesis)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vantage import geometry as g

az_st = st.floats(0.0, 359.99)
el_st = st.floats(-89.0, 89.0)
settings.register_profile("vantage", deadline=None, max_examples=60)
settings.load_profile("vantage")


@given(az_st, el_st, st.floats(0.1, 10.0))
def test_spherical_roundtrip(az, el, r):
    az2, el2, r2 = g.cartesian_to_spherical(g.spherical_to_cartesian(az, el, r))
    assert np.isclose(r2, r) and np.isclose(el2, el, atol=1e-7)
    assert np.isclose((az2 - az + 180) % 360 - 180, 0.0, atol=1e-6)


def test_azimuth_elevation_convention():
    np.testing.assert_allclose(g.spherical_to_cartesian(0, 0), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(g.spherical_to_cartesian(90, 0), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(g.spherical_to_cartesian(0, 90), [0, 0, 1], atol=1e-12)


@given(st.integers(1, 300), st.booleans())
def test_fibonacci_sphere(n, hemi):
    p = g.fibonacci_sphere(n, hemi)
    assert p.shape == (n, 3)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0)
    if hemi:
        assert (p[:, 2] > 0).all()
    np.testing.assert_array_equal(p, g.fibonacci_sphere(n, hemi))


def test_fibonacci_is_nearly_uniform():
    p = g.fibonacci_sphere(100)
    assert np.linalg.norm(p.mean(0)) < 0.02
    ang = g.angle_between(p[:, None], p[None])
    np.fill_diagonal(ang, 180)
    nearest = ang.min(1)
    assert nearest.min() > 0.5 * nearest.mean()  # no clumps


@given(az_st, el_st, st.floats(1.5, 5.0), st.floats(-180, 180))
def test_look_at_is_a_proper_camera(az, el, dist, roll):
    m = g.camera_pose(az, el, dist, roll)
    r = m[:3, :3]
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(r), 1.0)
    eye = g.spherical_to_cartesian(az, el, dist)
    np.testing.assert_allclose(m[:3, 3], eye, atol=1e-9)
    np.testing.assert_allclose(r[:, 2], -eye / dist, atol=1e-9)  # forward looks at the origin
    if roll == 0.0 and abs(el) < 85:
        assert r[2, 1] <= 1e-9  # image "down" never points up in the world
        assert abs(r[2, 0]) < 1e-9  # image "right" stays horizontal


def test_camera_at_front_sees_left_side_on_the_right():
    m = g.camera_pose(0, 0, 3.0)
    np.testing.assert_allclose(m[:3, 0], [0, 1, 0], atol=1e-12)  # right = +Y (object's left side)
    np.testing.assert_allclose(m[:3, 1], [0, 0, -1], atol=1e-12)  # down = -Z


def test_look_at_poles_are_continuous_with_azimuth_zero():
    near = g.camera_pose(0, 89.999, 3.0)[:3, :3]
    pole = g.camera_pose(0, 90.0, 3.0)[:3, :3]
    assert g.rotation_angle(near, pole) < 0.01
    near = g.camera_pose(0, -89.999, 3.0)[:3, :3]
    pole = g.camera_pose(0, -90.0, 3.0)[:3, :3]
    assert g.rotation_angle(near, pole) < 0.01


vec_st = st.tuples(*[st.floats(-1, 1)] * 3).filter(lambda v: np.linalg.norm(v) > 0.1)


@given(vec_st, vec_st, vec_st)
def test_angle_between_is_a_metric(a, b, c):
    ab, ba = g.angle_between(a, b), g.angle_between(b, a)
    assert np.isclose(ab, ba) and 0 <= ab <= 180
    assert g.angle_between(a, c) <= ab + g.angle_between(b, c) + 1e-7
    assert np.isclose(g.angle_between(a, a), 0.0, atol=1e-5)


@given(az_st, el_st, st.floats(-179, 179))
def test_rotation_angle_of_a_roll(az, el, roll):
    m0, m1 = g.camera_pose(az, el, 2.0), g.camera_pose(az, el, 2.0, roll)
    assert np.isclose(g.rotation_angle(m0[:3, :3], m1[:3, :3]), abs(roll), atol=1e-5)


@given(vec_st, vec_st, st.floats(0, 1))
def test_slerp_constant_speed(a, b, t):
    total = g.angle_between(a, b)
    if total > 179:
        return
    p = g.slerp(a, b, t)
    assert np.isclose(np.linalg.norm(p), 1.0)
    assert np.isclose(g.angle_between(a, p), t * total, atol=1e-5)
    assert np.isclose(g.angle_between(p, b), (1 - t) * total, atol=1e-5)


@given(st.integers(0, 2**31), st.floats(0.5, 45.0))
def test_adjacent_triplets_are_symmetric_on_a_geodesic(seed, step):
    rng = np.random.default_rng(seed)
    c = g.random_unit_vectors(rng, 8)
    t = g.adjacent_triplet(c, g.random_tangent(rng, c), step)
    left, centre, right = t[:, 0], t[:, 1], t[:, 2]
    np.testing.assert_allclose(g.angle_between(left, centre), step, atol=1e-6)
    np.testing.assert_allclose(g.angle_between(centre, right), step, atol=1e-6)
    np.testing.assert_allclose(g.angle_between(left, right), 2 * step, atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(t), 0.0, atol=1e-9)  # coplanar with the origin: one great circle
    np.testing.assert_allclose(g.slerp(left, right, 0.5), centre, atol=1e-9)


@given(st.integers(0, 2**31))
def test_rotation_representations_roundtrip(seed):
    gen = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(16, 4, generator=gen, dtype=torch.float64), dim=-1)
    r = g.quaternion_to_matrix(q)
    torch.testing.assert_close(r.transpose(-1, -2) @ r, torch.eye(3, dtype=torch.float64).expand(16, 3, 3))
    q2 = g.matrix_to_quaternion(r)
    torch.testing.assert_close(q2, torch.where(q[..., :1] < 0, -q, q), atol=1e-6, rtol=0)
    torch.testing.assert_close(g.rotation_6d_to_matrix(g.matrix_to_rotation_6d(r)), r)


def test_rotation_6d_identity_and_orthonormality():
    ident = g.rotation_6d_to_matrix(torch.tensor([1.0, 0, 0, 0, 1, 0]))
    torch.testing.assert_close(ident, torch.eye(3))
    m = g.rotation_6d_to_matrix(torch.randn(32, 6))
    torch.testing.assert_close(m @ m.transpose(-1, -2), torch.eye(3).expand(32, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(m), torch.ones(32), atol=1e-5, rtol=0)
