"""A scene of several rigid primitive bodies (boxes, cylinders, spheres) that move between frames, rendered by
pybullet's TinyRenderer with the same camera, light and background model as single objects (for video)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vantage.render.base import Background, Camera, Light, RenderOutput
from vantage.render.pybullet_backend import PyBulletClient

__all__ = ["Body", "PyBulletScene"]

SHAPES = ("box", "cylinder", "sphere")


@dataclass
class Body:
    """A primitive: ``box`` (size = full extents x, y, z), ``cylinder`` (size = radius, height; axis +z) or
    ``sphere`` (size = radius,), in an RGB colour in [0, 1]."""

    name: str
    shape: str
    size: tuple[float, ...]
    color: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"body {self.name}: shape must be one of {SHAPES}, got {self.shape!r}")
        need = {"box": 3, "cylinder": 2, "sphere": 1}[self.shape]
        if len(self.size) != need or min(self.size) <= 0:
            raise ValueError(f"body {self.name}: a {self.shape} needs {need} positive sizes, got {self.size}")


class PyBulletScene(PyBulletClient):
    """A set of bodies in one pybullet client; ``set_pose`` moves one, ``render`` draws all."""

    def __init__(self, supersample: int = 1) -> None:
        super().__init__(supersample)
        self._bodies: dict[str, int] = {}

    def clear(self) -> None:
        """Remove every body."""
        self._p.resetSimulation(physicsClientId=self._cid)
        self._bodies.clear()

    def add(self, body: Body) -> None:
        """Add a static visual body at the origin (move it with :meth:`set_pose`)."""
        p, cid = self._p, self._cid
        if body.name in self._bodies:
            raise ValueError(f"the scene already has a body named {body.name!r}")
        rgba = [*body.color, 1.0]
        if body.shape == "box":
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=[s / 2 for s in body.size], rgbaColor=rgba,
                                      physicsClientId=cid)  # fmt: skip
        elif body.shape == "cylinder":
            vis = p.createVisualShape(p.GEOM_CYLINDER, radius=body.size[0], length=body.size[1], rgbaColor=rgba,
                                      physicsClientId=cid)  # fmt: skip
        else:
            vis = p.createVisualShape(p.GEOM_SPHERE, radius=body.size[0], rgbaColor=rgba, physicsClientId=cid)
        self._bodies[body.name] = p.createMultiBody(baseMass=0, baseVisualShapeIndex=vis, physicsClientId=cid)

    def set_pose(self, name: str, position: np.ndarray, rotation: np.ndarray | None = None) -> None:
        """Place body ``name`` at ``position`` (3,) with world rotation ``rotation`` (3, 3; identity if None)."""
        from scipy.spatial.transform import Rotation

        quat = [0.0, 0.0, 0.0, 1.0] if rotation is None else Rotation.from_matrix(rotation).as_quat().tolist()
        self._p.resetBasePositionAndOrientation(self._bodies[name], np.asarray(position, float).tolist(), quat,
                                                physicsClientId=self._cid)  # fmt: skip

    def render(self, camera: Camera, light: Light | None = None, background: Background | None = None,
               rng: np.random.Generator | None = None) -> RenderOutput:  # fmt: skip
        """RGB, metric z-depth and mask of the scene seen from ``camera``."""
        if not self._bodies:
            raise RuntimeError("PyBulletScene.render called on an empty scene")
        return self._capture(camera, light, background, rng)
