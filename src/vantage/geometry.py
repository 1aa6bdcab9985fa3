"""Viewpoint geometry: spherical coordinates, Fibonacci spheres, look-at cameras, geodesics, rotations.

Conventions (used everywhere in vantage):

* Object canonical frame: +Z up, the object's front faces +X.
* Azimuth is measured in the XY plane from +X toward +Y, in degrees in [0, 360).
  Elevation is measured from the XY plane toward +Z, in degrees in [-90, 90].
  A camera at azimuth 0, elevation 0 therefore looks at the object's front.
* Cameras follow the OpenCV convention: camera +X points right in the image, +Y points down, +Z looks
  forward. ``cam_to_world`` is the 4x4 matrix whose columns are (right, down, forward, eye) in world
  coordinates, so ``p_world = cam_to_world @ p_cam``.
* A look-at camera keeps world +Z "up" in the image. At the poles (looking straight down or up) image-up
  is the limit reached from azimuth 0, so the front (+X) is at the bottom of the image from above.
  A positive ``roll_deg`` turns the camera clockwise about its forward axis (the image content turns
  counter-clockwise).

NumPy functions work on batches: leading dimensions broadcast. Torch rotation helpers use kornia.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the torch helpers so numpy-only users (the renderer) start fast
    import torch

__all__ = [
    "adjacent_triplet",
    "angle_between",
    "camera_pose",
    "cartesian_to_spherical",
    "euler_to_matrix",
    "fibonacci_angles",
    "fibonacci_sphere",
    "look_at",
    "matrix_to_quaternion",
    "matrix_to_rotation_6d",
    "nearest_point_to_lines",
    "quaternion_to_matrix",
    "qvec_to_rotation",
    "random_tangent",
    "random_unit_vectors",
    "rotation_6d_to_matrix",
    "rotation_angle",
    "rotation_to_qvec",
    "slerp",
    "spherical_to_cartesian",
]

_GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0
_EPS = 1e-9


def spherical_to_cartesian(
    azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float, radius: np.ndarray | float = 1.0
) -> np.ndarray:
    """Point(s) at (azimuth, elevation, radius) as xyz with shape (..., 3)."""
    az = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    r = np.asarray(radius, dtype=np.float64)
    return np.stack(np.broadcast_arrays(r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)), -1)


def cartesian_to_spherical(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`spherical_to_cartesian`: (azimuth in [0,360), elevation in [-90,90], radius)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    r = np.linalg.norm(xyz, axis=-1)
    el = np.rad2deg(np.arcsin(np.clip(xyz[..., 2] / np.maximum(r, _EPS), -1.0, 1.0)))
    az = np.mod(np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0])), 360.0)
    return az, el, r


def fibonacci_sphere(n: int, hemisphere: bool = False) -> np.ndarray:
    """The Fibonacci lattice Fib(n): n nearly uniform unit vectors (n, 3); upper hemisphere (z > 0) on request.

    Point i has z_i = 1 - 2 (i + 0.5) / n (or 1 - (i + 0.5) / n on the hemisphere) and azimuth
    2 pi i / phi, phi the golden ratio, so Fib(n) is deterministic and identical across runs.
    """
    if n < 1:
        raise ValueError(f"fibonacci_sphere needs n >= 1, got {n}")
    i = np.arange(n, dtype=np.float64)
    z = 1.0 - (i + 0.5) / n if hemisphere else 1.0 - 2.0 * (i + 0.5) / n
    rho = np.sqrt(np.clip(1.0 - z * z, 0.0, 1.0))
    az = np.mod(2.0 * np.pi * i / _GOLDEN, 2.0 * np.pi)
    return np.stack([rho * np.cos(az), rho * np.sin(az), z], -1)


def fibonacci_angles(n: int, hemisphere: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth_deg, elevation_deg) of the Fib(n) lattice."""
    az, el, _ = cartesian_to_spherical(fibonacci_sphere(n, hemisphere))
    return az, el


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def look_at(
    eye: np.ndarray,
    target: np.ndarray | None = None,
    up: np.ndarray | None = None,
    roll_deg: float | np.ndarray = 0.0,
) -> np.ndarray:
    """OpenCV cam_to_world (..., 4, 4) of a camera at ``eye`` looking at ``target`` with world ``up`` (+Z)."""
    eye = np.asarray(eye, dtype=np.float64)
    target = np.zeros(3) if target is None else np.asarray(target, dtype=np.float64)
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    forward = _normalize(np.broadcast_to(target, eye.shape) - eye)
    right = np.cross(forward, np.broadcast_to(up, forward.shape))
    degenerate = np.linalg.norm(right, axis=-1, keepdims=True) < 1e-6
    # At the poles use the limit reached from azimuth 0: image-up is -X looking down, +X looking up.
    fallback_up = np.sign(forward[..., 2:3]) * np.array([1.0, 0.0, 0.0])
    right = np.where(degenerate, np.cross(forward, fallback_up), right)
    right = _normalize(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward], -1)  # columns
    roll = np.deg2rad(np.asarray(roll_deg, dtype=np.float64))
    c, s = np.cos(roll), np.sin(roll)
    zero, one = np.zeros_like(c), np.ones_like(c)
    roll_mat = np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)
    rot = rot @ roll_mat
    out = np.zeros((*rot.shape[:-2], 4, 4))
    out[..., :3, :3] = rot
    out[..., :3, 3] = eye
    out[..., 3, 3] = 1.0
    return out


def camera_pose(
    azimuth_deg: np.ndarray | float,
    elevation_deg: np.ndarray | float,
    distance: np.ndarray | float,
    roll_deg: np.ndarray | float = 0.0,
) -> np.ndarray:
    """cam_to_world of a camera on the sphere of radius ``distance`` looking at the origin."""
    eye = spherical_to_cartesian(azimuth_deg, elevation_deg, distance)
    return look_at(eye, roll_deg=roll_deg)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle in degrees between direction vectors (any length), batched over leading dims."""
    a, b = _normalize(np.asarray(a, dtype=np.float64)), _normalize(np.asarray(b, dtype=np.float64))
    # atan2 of |a x b| and a.b is accurate for small and near-pi angles, unlike arccos.
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.rad2deg(np.arctan2(cross, np.sum(a * b, axis=-1)))


def rotation_angle(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Geodesic distance in degrees on SO(3) between rotation matrices (..., 3, 3)."""
    r1, r2 = np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)
    rel = np.swapaxes(r1, -1, -2) @ r2
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


def qvec_to_rotation(qvec: np.ndarray) -> np.ndarray:
    """(..., 4) quaternion (w, x, y, z; normalised here) to the (..., 3, 3) rotation matrix, in NumPy."""
    q = np.asarray(qvec, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def rotation_to_qvec(rotation: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix to its (w, x, y, z) quaternion with w >= 0: the eigenvector of the largest
    eigenvalue of the symmetric 4x4 matrix built from it, accurate near 180 degrees too."""
    r = np.asarray(rotation, dtype=np.float64)
    k = np.array([
        [r[0, 0] - r[1, 1] - r[2, 2], r[1, 0] + r[0, 1], r[2, 0] + r[0, 2], r[2, 1] - r[1, 2]],
        [r[1, 0] + r[0, 1], r[1, 1] - r[0, 0] - r[2, 2], r[2, 1] + r[1, 2], r[0, 2] - r[2, 0]],
        [r[2, 0] + r[0, 2], r[2, 1] + r[1, 2], r[2, 2] - r[0, 0] - r[1, 1], r[1, 0] - r[0, 1]],
        [r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1], r[0, 0] + r[1, 1] + r[2, 2]],
    ]) / 3.0  # fmt: skip
    vals, vecs = np.linalg.eigh(k)
    x, y, z, w = vecs[:, np.argmax(vals)]
    q = np.array([w, x, y, z])
    return -q if w < 0 else q


def nearest_point_to_lines(origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """The point with the least summed squared distance to the lines ``origins + t directions`` ((N, 3) each);
    ValueError when the lines are (nearly) all parallel, so no single point is nearest."""
    o = np.asarray(origins, dtype=np.float64)
    d = _normalize(np.asarray(directions, dtype=np.float64))
    proj = np.eye(3) - d[:, :, None] * d[:, None, :]  # projection onto each line's normal plane
    a, b = proj.sum(0), np.einsum("nij,nj->i", proj, o)
    s = np.linalg.svd(a, compute_uv=False)
    if len(o) < 2 or s[-1] < 1e-6 * max(s[0], 1e-12):
        raise ValueError("the optical axes are (nearly) parallel: no point is nearest to all of them")
    return np.linalg.solve(a, b)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation between unit vectors a (t=0) and b (t=1) at constant angular speed."""
    a, b = _normalize(np.asarray(a, dtype=np.float64)), _normalize(np.asarray(b, dtype=np.float64))
    t = np.asarray(t, dtype=np.float64)[..., None]
    omega = np.deg2rad(angle_between(a, b))[..., None]
    so = np.sin(omega)
    small = so < 1e-8
    safe = np.where(small, 1.0, so)
    out = np.where(small, (1 - t) * a + t * b, (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / safe)
    return _normalize(out)


def random_unit_vectors(rng: np.random.Generator, n: int, hemisphere: bool = False) -> np.ndarray:
    """n directions uniform on the sphere (or the upper hemisphere)."""
    v = _normalize(rng.normal(size=(n, 3)))
    if hemisphere:
        v[:, 2] = np.abs(v[:, 2])
    return v


def random_tangent(rng: np.random.Generator, directions: np.ndarray) -> np.ndarray:
    """A uniformly random unit tangent vector at each unit direction (n, 3)."""
    d = _normalize(np.asarray(directions, dtype=np.float64))
    while True:
        g = rng.normal(size=d.shape)
        t = g - np.sum(g * d, -1, keepdims=True) * d
        if np.all(np.linalg.norm(t, axis=-1) > 1e-6):
            return _normalize(t)


def adjacent_triplet(centre: np.ndarray, tangent: np.ndarray, step_deg: float) -> np.ndarray:
    """(…, 3, 3) directions (left, centre, right) on the great circle through ``centre`` along ``tangent``.

    Left and right lie ``step_deg`` before and after the centre, so the three views are symmetric on the
    geodesic through the centre, as in the pose-aware SSL paper's adjacent-view triplets.
    """
    c = _normalize(np.asarray(centre, dtype=np.float64))
    t = np.asarray(tangent, dtype=np.float64)
    t = _normalize(t - np.sum(t * c, -1, keepdims=True) * c)
    s = np.deg2rad(step_deg)
    left = np.cos(s) * c - np.sin(s) * t
    right = np.cos(s) * c + np.sin(s) * t
    return np.stack([left, c, right], -2)


# ----------------------------------------------------------------------------------------------- torch


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Continuous 6D rotation representation (Zhou et al. 2019) to (..., 3, 3) by Gram-Schmidt.

    The two 3-vectors are the first two *columns* of the matrix; (1,0,0, 0,1,0) gives the identity.
    """
    import torch

    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_6d_to_matrix`: the first two columns, concatenated."""
    import torch

    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """(w, x, y, z) quaternion (normalised here) to rotation matrix, via kornia."""
    import torch
    from kornia.geometry.conversions import quaternion_to_rotation_matrix

    return quaternion_to_rotation_matrix(torch.nn.functional.normalize(quaternion, dim=-1))


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to a (w, x, y, z) quaternion with w >= 0, via kornia."""
    import torch
    from kornia.geometry.conversions import rotation_matrix_to_quaternion

    q = rotation_matrix_to_quaternion(matrix.contiguous())
    return torch.where(q[..., :1] < 0, -q, q)


def euler_to_matrix(angles: torch.Tensor, rz_convention: str = "standard") -> torch.Tensor:
    """(..., 3) angles (x, y, z) in radians -> R = Rz(z) Ry(y) Rx(x), (..., 3, 3).

    ``rz_convention="reference"`` uses the 3DTRL reference code's Rz, which is the transpose of the standard
    rotation about z (a rotation by -z), so a model trained with that code is reproduced exactly.
    """
    import torch

    if rz_convention not in ("standard", "reference"):
        raise ValueError(f"rz_convention must be standard or reference, got {rz_convention!r}")
    x, y, z = angles.unbind(-1)
    cx, sx, cy, sy, cz, sz = x.cos(), x.sin(), y.cos(), y.sin(), z.cos(), z.sin()
    if rz_convention == "reference":
        sz = -sz
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).unflatten(-1, (3, 3))
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).unflatten(-1, (3, 3))
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).unflatten(-1, (3, 3))
    return rz @ ry @ rx
