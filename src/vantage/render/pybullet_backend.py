"""Default CPU renderer: pybullet's TinyRenderer in DIRECT mode (no GL, no display)."""

from __future__ import annotations

import contextlib

import numpy as np

from vantage.render.base import Background, Camera, Light, RenderOutput, composite_background
from vantage.shapes import ShapeObject

__all__ = ["PyBulletRenderer"]

# OpenCV camera (x right, y down, z forward) -> OpenGL camera (x right, y up, looking down -z).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


class PyBulletRenderer:
    """Renders coloured part meshes with TinyRenderer; one instance owns one pybullet DIRECT client.

    ``supersample`` > 1 renders at that multiple of the requested size and box-filters down, which
    anti-aliases edges at a cost of ``supersample**2`` in time.
    """

    def __init__(self, supersample: int = 1) -> None:
        import pybullet

        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self._p = pybullet
        self._cid = pybullet.connect(pybullet.DIRECT)
        self.supersample = int(supersample)
        self._has_object = False

    def set_object(self, obj: ShapeObject) -> None:
        """Replace the scene with ``obj``: one static visual body per coloured part."""
        p, cid = self._p, self._cid
        p.resetSimulation(physicsClientId=cid)
        for part in obj.parts:
            mesh = part.mesh.smooth_shaded  # splits vertices along sharp edges, keeps curved parts smooth
            vis = p.createVisualShape(
                p.GEOM_MESH,
                vertices=mesh.vertices.tolist(),
                indices=mesh.faces.reshape(-1).tolist(),
                normals=mesh.vertex_normals.tolist(),
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
        light = light or Light()
        background = background or Background()
        s = self.supersample
        w, h = camera.width * s, camera.height * s
        view = (_CV_TO_GL @ np.linalg.inv(camera.cam_to_world)).T.reshape(-1).tolist()  # column-major
        proj = self._p.computeProjectionMatrixFOV(camera.fov_deg, w / h, camera.near, camera.far)
        _, _, rgba, zbuf, seg = self._p.getCameraImage(
            w,
            h,
            viewMatrix=view,
            projectionMatrix=proj,
            renderer=self._p.ER_TINY_RENDERER,
            lightDirection=light.world_direction(camera).tolist(),
            lightColor=[1.0, 1.0, 1.0],
            lightAmbientCoeff=light.ambient,
            lightDiffuseCoeff=light.diffuse,
            lightSpecularCoeff=light.specular,
            shadow=int(light.shadow),
            physicsClientId=self._cid,
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

    def close(self) -> None:
        """Disconnect the pybullet client."""
        if self._cid is not None and self._p.isConnected(physicsClientId=self._cid):
            self._p.disconnect(physicsClientId=self._cid)
        self._cid = None

    def __enter__(self) -> PyBulletRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn pybullet down already
            self.close()
