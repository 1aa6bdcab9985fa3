"""The pybullet TinyRenderer backend renders what the camera model says it should."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from vantage.geometry import camera_pose
from vantage.render import Background, Camera, Light, PyBulletRenderer, Renderer
from vantage.shapes import Part, ShapeObject, generate

RED, GREEN, BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _ball(centre, radius, color):
    m = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    m.apply_translation(centre)
    return Part(m, color)


@pytest.fixture(scope="module")
def renderer():
    r = PyBulletRenderer()
    yield r
    r.close()


def _blob(rgb, channel):
    other = [c for c in range(3) if c != channel]
    sel = (rgb[..., channel] > 120) & (rgb[..., other].max(-1) < 60)
    ys, xs = np.nonzero(sel)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5]), sel.sum()


def test_is_a_renderer(renderer):
    assert isinstance(renderer, Renderer)


@pytest.mark.parametrize(("az", "el"), [(0, 0), (30, 20), (135, -40), (250, 60)])
def test_projected_centre_matches_camera_model(renderer, az, el):
    point = np.array([0.4, -0.3, 0.2])
    renderer.set_object(ShapeObject("ball", 0, [_ball(point, 0.12, RED)]))
    cam = Camera(camera_pose(az, el, 3.0), 64, 48, fov_deg=40)
    out = renderer.render(cam, Light(ambient=1.0, diffuse=0.0, specular=0.0))
    centre, n = _blob(out.rgb, 0)
    uv, _ = cam.project(point[None])
    assert n > 10
    assert np.abs(centre - uv[0]).max() < 1.0  # within one pixel


def test_silhouette_sides_follow_the_convention(renderer):
    # Markers on the object's front (+X) and left (+Y); cameras looking from several azimuths.
    renderer.set_object(
        ShapeObject("m", 0, [_ball((0.7, 0, 0), 0.2, RED), _ball((0, 0.7, 0), 0.2, GREEN), _ball((0, 0, 0), 0.3, BLUE)])
    )
    light = Light(ambient=1.0, diffuse=0.0, specular=0.0)

    def side(az, channel):
        out = renderer.render(Camera(camera_pose(az, 0, 3.0), 64, 64), light)
        return _blob(out.rgb, channel)[0][0] - 32.0

    assert side(0, 1) > 5  # from the front, the object's left side (+Y) is on the image's right
    assert side(90, 0) < -5  # from the object's left, its front is on the image's left
    assert side(270, 0) > 5  # from its right, the front is on the image's right
    assert side(180, 1) < -5  # from behind, its left side is on the image's left


def test_front_is_seen_from_azimuth_zero(renderer):
    front = trimesh.creation.box(extents=(0.05, 1.0, 1.0))
    front.apply_translation((0.5, 0, 0))
    back = trimesh.creation.box(extents=(0.05, 1.0, 1.0))
    back.apply_translation((-0.5, 0, 0))
    renderer.set_object(ShapeObject("plates", 0, [Part(front, RED), Part(back, BLUE)]))
    rgb0 = renderer.render(Camera(camera_pose(0, 10, 3.0), 32, 32)).rgb.reshape(-1, 3).astype(int)
    rgb180 = renderer.render(Camera(camera_pose(180, 10, 3.0), 32, 32)).rgb.reshape(-1, 3).astype(int)
    assert rgb0[:, 0].sum() > 5 * rgb0[:, 2].sum()
    assert rgb180[:, 2].sum() > 5 * rgb180[:, 0].sum()


def test_depth_is_metric_z_and_mask_agrees(renderer):
    renderer.set_object(ShapeObject("ball", 0, [_ball((0, 0, 0), 0.5, RED)]))
    cam = Camera(camera_pose(40, 25, 3.0), 64, 64)
    out = renderer.render(cam)
    assert out.depth.dtype == np.float32 and out.depth.shape == (64, 64)
    assert np.isclose(out.depth[31:33, 31:33].min(), 2.5, atol=0.02)  # nearest point: distance - radius
    np.testing.assert_array_equal(out.mask, out.depth > 0)
    assert (out.depth[out.mask] < 3.0 + 1e-3).all() and (out.depth[out.mask] > 2.45).all()
    assert out.rgb[~out.mask].max() == 0  # default background: black


def test_backgrounds(renderer):
    renderer.set_object(generate("mug", 0))
    cam = Camera(camera_pose(20, 20, 3.0), 48, 48)
    solid = renderer.render(cam, background=Background("solid", (10, 200, 30)))
    assert (solid.rgb[~solid.mask] == (10, 200, 30)).all()
    r1 = renderer.render(cam, background=Background("random"), rng=np.random.default_rng(1))
    r2 = renderer.render(cam, background=Background("random"), rng=np.random.default_rng(2))
    assert not np.array_equal(r1.rgb[~r1.mask], r2.rgb[~r2.mask])
    np.testing.assert_array_equal(r1.rgb[r1.mask], r2.rgb[r2.mask])  # the object itself is unchanged
    tex = renderer.render(cam, background=Background("texture"), rng=np.random.default_rng(3))
    assert len(np.unique(tex.rgb[~tex.mask], axis=0)) > 20
    with pytest.raises(ValueError, match=r"background kind"):
        Background("plaid")


def test_renders_are_deterministic(renderer):
    renderer.set_object(generate("car", 3))
    cam = Camera(camera_pose(75, 15, 3.0), 32, 32)
    np.testing.assert_array_equal(renderer.render(cam).rgb, renderer.render(cam).rgb)


def test_supersampling_keeps_geometry():
    r = PyBulletRenderer(supersample=2)
    try:
        r.set_object(ShapeObject("ball", 0, [_ball((0, 0, 0), 0.5, RED)]))
        out = r.render(Camera(camera_pose(0, 0, 3.0), 40, 40))
        assert out.rgb.shape == (40, 40, 3) and out.mask.shape == (40, 40)
        assert np.isclose(out.depth[19:21, 19:21].min(), 2.5, atol=0.03)
        edge_values = np.unique(out.rgb[..., 0][(out.rgb[..., 0] > 0) & (out.rgb[..., 0] < 100)])
        assert len(edge_values) > 0  # anti-aliased edge pixels exist
    finally:
        r.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0, "height": 32}, "width must be a positive integer"),
        ({"width": 32, "height": -4}, "height must be a positive integer"),
        ({"width": 32, "height": 32, "fov_deg": 0.0}, "fov_deg"),
    ],
)
def test_bad_camera_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Camera(camera_pose(0, 0, 3.0), **kwargs)


def test_render_before_set_object_is_an_error():
    r = PyBulletRenderer()
    with pytest.raises(RuntimeError, match=r"set_object"):
        r.render(Camera(camera_pose(0, 0, 3.0), 8, 8))
    r.close()
