"""What every camera-posed format reads into (`PosedFrame`), the checks every pose passes, and the object-centred
frame derived from a set of cameras (centre, up, azimuth zero), from which azimuth, elevation and distance follow.

Poses are OpenCV camera-to-world matrices (camera +X right, +Y down, +Z forward; columns right, down, forward,
eye), in the source's own world frame: each format's reader converts its convention to this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vantage.data.schema import DatasetError
from vantage.geometry import cartesian_to_spherical, nearest_point_to_lines

__all__ = ["UP_CHOICES", "ObjectFrame", "PosedFrame", "check_pose", "derive_object_frame", "fov_deg", "rigid"]

UP_CHOICES = ("auto", "+x", "-x", "+y", "-y", "+z", "-z")
_RIGID_TOL = 1e-4  # |R^T R - I| and |det R - 1|; rendered poses are stored to 6 decimals
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenGL / nerfstudio camera axes (x right, y up, z back) <-> OpenCV


@dataclass
class PosedFrame:
    """One image of a posed capture: its file (relative to the source folder), object and pose."""

    where: str  # the file and entry that gave this frame, for errors
    file: str
    object_id: str
    cam_to_world: np.ndarray  # (4, 4) OpenCV camera-to-world in the source's world frame
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    category: str | None = None
    mask: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    sequence_id: str | None = None
    frame_index: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def rigid(matrix: np.ndarray, where: str, what: str = "camera pose") -> np.ndarray:
    """``matrix`` as a float (4, 4) rigid transform, its rotation part made exactly orthonormal (the nearest
    rotation: poses stored to a few decimals are off by that much); or one DatasetError naming ``where``: the
    wrong shape, a non-finite number, a rotation part that is not orthonormal with determinant +1 to within
    1e-4, or a bottom row not 0 0 0 1."""
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: the {what} is not a matrix of numbers") from None
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4):
        raise DatasetError(f"{where}: the {what} must be 4x4 (or 3x4), got shape {m.shape}")
    if not np.isfinite(m).all():
        raise DatasetError(f"{where}: the {what} holds a non-finite number (NaN or inf)")
    r = m[:3, :3]
    err = max(np.abs(r.T @ r - np.eye(3)).max(), abs(np.linalg.det(r) - 1.0))
    if err > _RIGID_TOL or np.abs(m[3] - [0, 0, 0, 1]).max() > _RIGID_TOL:
        raise DatasetError(f"{where}: the {what} is not rigid (its rotation part is off orthonormal by {err:.2g}, "
                           "or it scales, shears or mirrors); vantage needs rotation + translation")  # fmt: skip
    u, _, vt = np.linalg.svd(r)
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = u @ vt, m[:3, 3]
    return out


def check_pose(frame: PosedFrame) -> PosedFrame:
    """``frame`` with its pose checked (:func:`rigid`) and its intrinsics positive and finite."""
    frame.cam_to_world = rigid(frame.cam_to_world, frame.where)
    for name in ("fx", "fy", "width", "height"):
        value = getattr(frame, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise DatasetError(f"{frame.where}: {name}={value!r} must be a positive number")
    for name in ("cx", "cy"):
        if not math.isfinite(getattr(frame, name)):
            raise DatasetError(f"{frame.where}: {name} must be a finite number")
    return frame


def fov_deg(focal: float, size: float) -> float:
    """The field of view in degrees across ``size`` pixels at focal length ``focal`` (pixels)."""
    return math.degrees(2.0 * math.atan(size / (2.0 * focal)))


@dataclass
class ObjectFrame:
    """An object-centred frame in source coordinates: ``centre``, unit ``up`` and unit ``zero`` (the horizontal
    direction of azimuth 0), with how ``up`` was found."""

    centre: np.ndarray
    up: np.ndarray
    zero: np.ndarray
    up_from: str

    def spherical(self, eyes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(azimuth, elevation, distance) of camera centres ``eyes`` (N, 3) in this frame (vantage's convention:
        azimuth from ``zero`` toward ``up`` x ``zero``)."""
        rel = np.asarray(eyes, dtype=np.float64) - self.centre
        third = np.cross(self.up, self.zero)
        local = np.stack([rel @ self.zero, rel @ third, rel @ self.up], -1)
        return cartesian_to_spherical(local)

    def to_json(self) -> dict[str, Any]:
        """The frame as the dataset card stores it."""
        return {"centre": self.centre.tolist(), "up": self.up.tolist(), "azimuth_zero": self.zero.tolist(),
                "up_from": self.up_from}  # fmt: skip


def _axis(name: str) -> np.ndarray:
    v = np.zeros(3)
    v["xyz".index(name[1])] = 1.0 if name[0] == "+" else -1.0
    return v


def derive_object_frame(poses: np.ndarray, up: str = "auto", where: str = "") -> ObjectFrame:
    """The object-centred frame of one object's cameras ``poses`` (N, 4, 4): the centre is the point nearest all
    optical axes; ``up`` is a given world axis, or (auto) the normal of the plane of the camera centres when
    they lie near one (a turntable or orbit), else the one direction perpendicular to every camera's image
    x-axis (cameras held level, as look-at renders and most hand-held captures are), else the cameras' mean
    image-up direction; its sign agrees with that mean. Azimuth 0 is the world +X axis (+Y when +X is within
    10 degrees of up) laid onto the horizontal plane."""
    if up not in UP_CHOICES:
        raise DatasetError(f"--up must be one of {UP_CHOICES}, got {up!r}")
    eyes, forward, image_up = poses[:, :3, 3], poses[:, :3, 2], -poses[:, :3, 1]
    try:
        centre = nearest_point_to_lines(eyes, forward)
    except ValueError as e:
        raise DatasetError(f"{where}: cannot find the object centre: {e} (need two or more cameras that look "
                           "at the object from different directions)") from None  # fmt: skip
    mean_up = image_up.mean(0)
    if up != "auto":
        u, up_from = _axis(up), f"given ({up})"
    else:
        spread = np.linalg.svd(eyes - eyes.mean(0), compute_uv=False)
        normal = np.linalg.svd(eyes - eyes.mean(0))[2][-1] if len(eyes) >= 3 else mean_up
        planar = len(eyes) >= 3 and spread[2] < 0.15 * spread[1]
        right = poses[:, :3, 0]
        r_s, r_v = np.linalg.svd(right)[1:]
        level = len(eyes) >= 3 and r_s[2] < 0.25 * r_s[1]
        if planar:
            u, up_from = normal, "normal of the camera-centre plane"
        elif level:
            u, up_from = r_v[-1], "the direction every camera's image x-axis is level with"
        else:
            u, up_from = mean_up, "mean camera image-up direction"
        u = u * (1.0 if u @ mean_up >= 0 else -1.0)
        if np.linalg.norm(u) < 1e-9:
            raise DatasetError(f"{where}: cannot find the up direction (the cameras' image-up directions cancel "
                               "out); give it with --up")  # fmt: skip
    u = u / np.linalg.norm(u)
    ref = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < math.cos(math.radians(10)) else np.array([0.0, 1.0, 0.0])
    zero = ref - (ref @ u) * u
    return ObjectFrame(centre, u, zero / np.linalg.norm(zero), up_from)
