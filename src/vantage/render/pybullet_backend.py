"""Default CPU renderer: pybullet's TinyRenderer in DIRECT mode (no GL, no display)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

from vantage.render.base import Background, Camera, Light, RenderOutput, composite_background
from vantage.render.registry import register_renderer
from vantage.shapes import ShapeObject

__all__ = ["PyBulletClient", "PyBulletRenderer", "capture"]

# OpenCV camera (x right, y down, z forward) -> OpenGL camera (x right, y up, looking down -z).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def crease_shading(vertices: np.ndarray, faces: np.ndarray, crease_deg: float = 40.0):
    """Per-corner normals: smooth across edges flatter than ``crease_deg``, sharp across the others.

    Returns (corner vertices (3F, 3), faces (F, 3), normals (3F, 3)); each face gets its own three vertices,
    whose normals average the area-weighted normals of the faces around that vertex within the crease angle.
    """
    tri = vertices[faces]
    area_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # twice the area, along the normal
    unit = area_n / np.maximum(np.linalg.norm(area_n, axis=1, keepdims=True), 1e-12)
    flat = faces.reshape(-1)
    face_of = np.repeat(np.arange(len(faces)), 3)
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=len(vertices))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    vertex_faces = np.full((len(vertices), max(int(counts.max()), 1)), -1)
    vertex_faces[flat[order], np.arange(len(flat)) - starts[flat[order]]] = face_of[order]
    around = vertex_faces[flat]  # (3F, valence): faces sharing each corner's vertex
    valid = around >= 0
    idx = np.where(valid, around, 0)
    keep = valid & (np.einsum("cvk,ck->cv", unit[idx], unit[face_of]) >= np.cos(np.deg2rad(crease_deg)))
    normals = np.einsum("cv,cvk->ck", keep.astype(np.float64), area_n[idx])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return tri.reshape(-1, 3), np.arange(3 * len(faces)).reshape(-1, 3), normals


def capture(
    p: Any,
    cid: int,
    camera: Camera,
    light: Light | None,
    background: Background | None,
    rng: np.random.Generator | None,
    supersample: int = 1,
    projections: dict[tuple, Any] | None = None,
) -> RenderOutput:
    """Render pybullet client ``cid``'s scene from ``camera`` with TinyRenderer: RGB composited on the
    background, metric z-depth (0 on background) and mask; ``supersample`` > 1 box-filters a larger render."""
    light = light or Light()
    background = background or Background()
    s = supersample
    w, h = camera.width * s, camera.height * s
    view = (_CV_TO_GL @ np.linalg.inv(camera.cam_to_world)).T.reshape(-1).tolist()  # column-major
    key = (camera.fov_deg, w / h, camera.near, camera.far)
    projections = {} if projections is None else projections
    if key not in projections:
        projections[key] = p.computeProjectionMatrixFOV(*key)
    _, _, rgba, zbuf, seg = p.getCameraImage(
        w,
        h,
        viewMatrix=view,
        projectionMatrix=projections[key],
        renderer=p.ER_TINY_RENDERER,
        lightDirection=light.world_direction(camera).tolist(),
        lightColor=[1.0, 1.0, 1.0],
        lightAmbientCoeff=light.ambient,
        lightDiffuseCoeff=light.diffuse,
        lightSpecularCoeff=light.specular,
        shadow=int(light.shadow),
        physicsClientId=cid,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[..., :3]
    mask = np.asarray(seg).reshape(h, w) >= 0
    zbuf = np.asarray(zbuf, dtype=np.float64).reshape(h, w)
    depth = camera.far * camera.near / (camera.far - (camera.far - camera.near) * zbuf)
    depth = np.where(mask, depth, 0.0)
    bg = background.image(camera.height, camera.width, rng)
    if s > 1:
        rgb = composite_background(rgb, mask, np.repeat(np.repeat(bg, s, 0), s, 1)).astype(np.float64)
        rgb = rgb.reshape(camera.height, s, camera.width, s, 3).mean((1, 3)).round().astype(np.uint8)
        cover = mask.reshape(camera.height, s, camera.width, s).mean((1, 3))
        dsum = depth.reshape(camera.height, s, camera.width, s).sum((1, 3))
        depth = np.where(cover > 0, dsum / np.maximum(cover * s * s, 1), 0.0)
        mask = cover >= 0.5
        depth = np.where(mask, depth, 0.0)
    else:
        rgb = composite_background(rgb, mask, bg)
    return RenderOutput(rgb=np.ascontiguousarray(rgb), depth=depth.astype(np.float32), mask=mask)


def _import_pybullet() -> Any:
    """pybullet, imported with its C-level "pybullet build time" banner (written to fd 2 at import) kept out of
    the user's output."""
    import ctypes
    import sys

    if "pybullet" in sys.modules:
        return sys.modules["pybullet"]
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import pybullet

            ctypes.CDLL(None).fflush(None)  # anything still in C's stdio buffers goes to /dev/null too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return pybullet


class PyBulletClient:
    """Owns one pybullet DIRECT client (no GL, no display) and its cached projection matrices; closes it on
    ``close``, on leaving a ``with`` block, or when collected. ``supersample`` > 1 renders at that multiple of
    the requested size and box-filters down (anti-aliasing at ``supersample**2`` the time)."""

    def __init__(self, supersample: int = 1) -> None:
        pybullet = _import_pybullet()
        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self._p = pybullet
        self._cid = pybullet.connect(pybullet.DIRECT)
        self.supersample = int(supersample)
        self._projections: dict[tuple, Any] = {}

    def _capture(self, camera: Camera, light: Light | None, background: Background | None,
                 rng: np.random.Generator | None) -> RenderOutput:  # fmt: skip
        return capture(self._p, self._cid, camera, light, background, rng, self.supersample, self._projections)

    def close(self) -> None:
        """Disconnect the pybullet client."""
        if self._cid is not None and self._p.isConnected(physicsClientId=self._cid):
            self._p.disconnect(physicsClientId=self._cid)
        self._cid = None

    def __enter__(self) -> PyBulletClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn pybullet down already
            self.close()


@register_renderer("pybullet")
class PyBulletRenderer(PyBulletClient):
    """Renders coloured part meshes of one object with TinyRenderer."""

    def __init__(self, supersample: int = 1) -> None:
        super().__init__(supersample)
        self._has_object = False

    def set_object(self, obj: ShapeObject) -> None:
        """Replace the scene with ``obj``: one static visual body per coloured part."""
        p, cid = self._p, self._cid
        p.resetSimulation(physicsClientId=cid)
        for part in obj.parts:
            verts, faces, normals = crease_shading(np.asarray(part.mesh.vertices), np.asarray(part.mesh.faces))
            vis = p.createVisualShape(
                p.GEOM_MESH,
                vertices=verts.tolist(),
                indices=faces.reshape(-1).tolist(),
                normals=normals.tolist(),
                rgbaColor=[*part.color, 1.0],
                specularColor=[0.2, 0.2, 0.2],
                physicsClientId=cid,
            )
            if vis < 0:
                raise RuntimeError(f"pybullet could not create a visual shape for a part of {obj.category}")
            p.createMultiBody(baseMass=0, baseVisualShapeIndex=vis, physicsClientId=cid)
        self._has_object = True

    def render(
        self,
        camera: Camera,
        light: Light | None = None,
        background: Background | None = None,
        rng: np.random.Generator | None = None,
    ) -> RenderOutput:
        """RGB, metric z-depth and mask of the current object seen from ``camera``."""
        if not self._has_object:
            raise RuntimeError("PyBulletRenderer.render called before set_object")
        return self._capture(camera, light, background, rng)
