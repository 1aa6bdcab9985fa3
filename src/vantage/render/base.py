"""The renderer contract: cameras, lights, backgrounds, outputs, and the Renderer protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from vantage.shapes import ShapeObject

__all__ = ["Background", "Camera", "Light", "RenderOutput", "Renderer", "composite_background"]


@dataclass
class Camera:
    """A pinhole camera: OpenCV ``cam_to_world`` (see vantage.geometry), vertical field of view, image size."""

    cam_to_world: np.ndarray
    width: int
    height: int
    fov_deg: float = 40.0
    near: float = 0.05
    far: float = 20.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"camera {name} must be a positive integer number of pixels, got {v!r}")
        if not 0.0 < self.fov_deg < 180.0:
            raise ValueError(f"camera fov_deg must be in (0, 180), got {self.fov_deg!r}")
        if not 0.0 < self.near < self.far:
            raise ValueError(f"camera needs 0 < near < far, got near={self.near}, far={self.far}")
        self.cam_to_world = np.asarray(self.cam_to_world, dtype=np.float64)
        if self.cam_to_world.shape != (4, 4):
            raise ValueError(f"cam_to_world must be 4x4, got shape {self.cam_to_world.shape}")

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels)."""
        return (self.height / 2.0) / math.tan(math.radians(self.fov_deg) / 2.0)

    def intrinsics(self) -> np.ndarray:
        """3x3 K with the principal point at the image centre (pixel centres at half-integers)."""
        f = self.focal
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height / 2.0], [0.0, 0.0, 1.0]])

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) as (u=column, v=row) and camera-frame depth (N,) of world points."""
        pts = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        w2c = np.linalg.inv(self.cam_to_world)
        cam = pts @ w2c[:3, :3].T + w2c[:3, 3]
        uv = (cam[:, :2] / cam[:, 2:3]) @ self.intrinsics()[:2, :2].T + self.intrinsics()[:2, 2]
        return uv, cam[:, 2]


@dataclass
class Light:
    """A directional light. ``direction`` points from the object toward the light.

    With ``frame="camera"`` the direction is in camera coordinates (x right, y down, z forward), so the
    shading pattern moves with the camera and no view is left in the dark; ``frame="world"`` fixes it.
    """

    direction: tuple[float, float, float] = (-0.4, -0.6, -1.0)
    frame: str = "camera"
    ambient: float = 0.45
    diffuse: float = 0.6
    specular: float = 0.05
    shadow: bool = False

    def world_direction(self, camera: Camera) -> np.ndarray:
        """The light direction in world coordinates for this camera."""
        d = np.asarray(self.direction, dtype=np.float64)
        if self.frame == "camera":
            d = camera.cam_to_world[:3, :3] @ d
        elif self.frame != "world":
            raise ValueError(f"light frame must be 'camera' or 'world', got {self.frame!r}")
        return d / max(float(np.linalg.norm(d)), 1e-9)


@dataclass
class Background:
    """What fills pixels the object does not cover: a solid colour, a random colour, or a random texture."""

    kind: str = "solid"  # solid | random | texture
    color: tuple[int, int, int] = (0, 0, 0)

    KINDS = ("solid", "random", "texture")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"background kind must be one of {self.KINDS}, got {self.kind!r}")

    def image(self, height: int, width: int, rng: np.random.Generator | None) -> np.ndarray:
        """An (H, W, 3) uint8 background; random kinds draw from ``rng``."""
        if self.kind == "solid":
            return np.broadcast_to(np.asarray(self.color, dtype=np.uint8), (height, width, 3)).copy()
        rng = rng if rng is not None else np.random.default_rng()
        if self.kind == "random":
            return np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (height, width, 3)).copy()
        # texture: two blended colours modulated by smooth low-frequency noise (bilinear upsampled grid).
        c0, c1 = rng.integers(0, 256, (2, 3)).astype(np.float64)
        cells = int(rng.integers(2, 7))
        grid = rng.random((cells + 1, cells + 1))
        ys, xs = np.linspace(0, cells, height), np.linspace(0, cells, width)
        y0, x0 = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
        fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
        g = (
            grid[y0][:, x0] * (1 - fy) * (1 - fx)
            + grid[y0 + 1][:, x0] * fy * (1 - fx)
            + grid[y0][:, x0 + 1] * (1 - fy) * fx
            + grid[y0 + 1][:, x0 + 1] * fy * fx
        )
        return (c0 * (1 - g[..., None]) + c1 * g[..., None]).round().astype(np.uint8)


@dataclass
class RenderOutput:
    """RGB (H, W, 3) uint8, metric z-depth (H, W) float32 (0 where there is no object), mask (H, W) bool."""

    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    meta: dict = field(default_factory=dict)


@runtime_checkable
class Renderer(Protocol):
    """Anything that renders a ShapeObject from a Camera; backends implement this."""

    def set_object(self, obj: ShapeObject) -> None:
        """Replace the scene with ``obj`` (in its canonical frame, at the origin)."""

    def render(
        self,
        camera: Camera,
        light: Light | None = None,
        background: Background | None = None,
        rng: np.random.Generator | None = None,
    ) -> RenderOutput:
        """Render the current object."""

    def close(self) -> None:
        """Release the backend's resources."""


def composite_background(rgb: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Object pixels from ``rgb``, the rest from ``background``."""
    return np.where(mask[..., None], rgb, background)
