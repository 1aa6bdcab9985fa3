"""Scripted multi-phase manipulation tasks for multi-view video: a primitive arm of boxes on a table, objects,
per-frame body poses and phase labels, and the cameras that film them (pure NumPy; rendering is elsewhere).

World frame: +Z up, the table top at z = 0, the arm's base at (-0.45, 0, 0) facing +X. The arm has a yaw joint,
a shoulder and an elbow (analytic two-link inverse kinematics in the vertical plane) and a gripper that hangs
from the wrist. Every task is a list of phases; each phase moves the gripper between key points with a smooth
(cosine) profile over a number of frames drawn per trajectory, so executions differ in pace and length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vantage.geometry import look_at
from vantage.render.scene import Body

__all__ = ["ACTION_TASKS", "ARM", "TASKS", "Actor", "Frame", "Trajectory", "actor_style", "arm_bodies", "fpv_camera",
           "script_task", "tpv_cameras"]  # fmt: skip


@dataclass(frozen=True)
class ArmGeometry:
    """Link lengths (m) and fixed points of the primitive arm."""

    base: tuple[float, float, float] = (-0.45, 0.0, 0.0)
    shoulder_height: float = 0.30
    upper: float = 0.36
    fore: float = 0.34
    gripper: float = 0.07
    width: float = 0.05


ARM = ArmGeometry()
WORKSPACE = np.array([0.05, 0.0, 0.05])  # where the static cameras look


@dataclass
class Frame:
    """One time step: each body's world pose (position, 3x3 rotation) and the task phase."""

    poses: dict[str, tuple[np.ndarray, np.ndarray]]
    phase: str
    gripper: np.ndarray  # gripper tip position


@dataclass
class Trajectory:
    """A scripted execution: the bodies in the scene and their poses frame by frame."""

    task: str
    bodies: list[Body]
    frames: list[Frame] = field(default_factory=list)

    @property
    def phases(self) -> list[str]:
        return [f.phase for f in self.frames]


def _frame_along(direction: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Rotation whose x-axis is ``direction`` and y-axis lies along ``side`` (orthonormalised)."""
    x = direction / np.linalg.norm(direction)
    y = side - (side @ x) * x
    y = y / np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], 1)


def _segment_pose(a: np.ndarray, b: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (a + b) / 2, _frame_along(b - a, side)


def arm_pose(tip: np.ndarray, arm: ArmGeometry = ARM) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Poses of the arm's links (column, upper arm, forearm, gripper) that put the gripper tip at ``tip``."""
    base = np.asarray(arm.base, float)
    shoulder = base + _v(0, 0, arm.shoulder_height)
    wrist = tip + _v(0, 0, arm.gripper)
    yaw = np.arctan2(wrist[1] - base[1], wrist[0] - base[0])
    u = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    side = np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    r = np.hypot(wrist[0] - base[0], wrist[1] - base[1])
    h = wrist[2] - shoulder[2]
    d = min(np.hypot(r, h), arm.upper + arm.fore - 1e-6)
    c2 = np.clip((d * d - arm.upper**2 - arm.fore**2) / (2 * arm.upper * arm.fore), -1, 1)
    q2 = -np.arccos(c2)  # elbow up
    q1 = np.arctan2(h, r) - np.arctan2(arm.fore * np.sin(q2), arm.upper + arm.fore * np.cos(q2))
    elbow = shoulder + arm.upper * (np.cos(q1) * u + np.sin(q1) * np.array([0, 0, 1.0]))
    wrist = elbow + arm.fore * (np.cos(q1 + q2) * u + np.sin(q1 + q2) * np.array([0, 0, 1.0]))
    tip = wrist - _v(0, 0, arm.gripper)
    return {
        "column": _segment_pose(base, shoulder, side),
        "upper": _segment_pose(shoulder, elbow, side),
        "fore": _segment_pose(elbow, wrist, side),
        "gripper": _segment_pose(wrist, tip, side),
    }


def arm_bodies(color: tuple[float, float, float], arm: ArmGeometry = ARM) -> list[Body]:
    """The table and the arm's boxes (long axis x, as :func:`arm_pose` orients them)."""
    w = arm.width
    return [
        Body("table", "box", (1.6, 1.2, 0.04), (0.55, 0.45, 0.35)),
        Body("column", "box", (arm.shoulder_height, w * 1.4, w * 1.4), color),
        Body("upper", "box", (arm.upper, w, w), color),
        Body("fore", "box", (arm.fore, w * 0.9, w * 0.9), tuple(0.8 * c for c in color)),
        Body("gripper", "box", (arm.gripper, w * 1.2, w * 0.5), (0.15, 0.15, 0.15)),
    ]


def _smooth(a: np.ndarray, b: np.ndarray, n: int) -> list[np.ndarray]:
    t = (1 - np.cos(np.linspace(0, np.pi, n + 1)[1:])) / 2
    return [a + (b - a) * s for s in t]


def _v(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=float)


Script = Callable[[np.random.Generator, Callable[[int], int]], Trajectory]


def _pick_place(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    a = np.array([rng.uniform(-0.05, 0.25), rng.uniform(-0.3, -0.05), 0.0])
    b = np.array([rng.uniform(-0.05, 0.25), rng.uniform(0.05, 0.3), 0.0])
    cube = Body("cube", "box", (0.06, 0.06, 0.06), tuple(rng.uniform(0.2, 1.0, 3)))
    home = np.array([-0.1, 0.0, 0.35])
    up = np.array([0, 0, 0.18])
    low = _v(0, 0, 0.06)
    keys = [("reach", home, a + up, 12), ("reach", a + up, a + low, 8), ("grasp", None, None, 4),
            ("lift", a + low, a + up, 8), ("carry", a + up, b + up, 14), ("place", b + up, b + low, 8),
            ("release", None, None, 4), ("retreat", b + low, home, 12)]  # fmt: skip
    traj = Trajectory("pick_place", [cube])
    tip, held = home.copy(), False
    for phase, start, end, n in keys:
        steps = [tip.copy()] * frames(n) if start is None else _smooth(start, end, frames(n))
        if phase == "grasp":
            held = True
        if phase == "release":
            held = False
        for tip in steps:
            cube_pos = tip - _v(0, 0, 0.03) if held else (a if phase in ("reach", "grasp") else b) + _v(0, 0, 0.03)
            traj.frames.append(Frame({"cube": (cube_pos, np.eye(3))}, phase, tip.copy()))
    return traj


def _tilt(angle: float, axis: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(angle * axis / np.linalg.norm(axis)).as_matrix()


def _pour(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    a = np.array([rng.uniform(0.0, 0.25), rng.uniform(-0.3, -0.1), 0.0])
    b = np.array([rng.uniform(0.0, 0.25), rng.uniform(0.1, 0.3), 0.0])
    cup = Body("cup", "cylinder", (0.035, 0.10), tuple(rng.uniform(0.2, 1.0, 3)))
    bowl = Body("bowl", "cylinder", (0.065, 0.04), tuple(rng.uniform(0.2, 1.0, 3)))
    home = np.array([-0.1, 0.0, 0.35])
    grip = np.array([0, 0, 0.09])
    over = b + _v(0, -0.09, 0.22)
    axis = np.array([1.0, 0.0, 0.0])  # tipping the cup toward +y, over the bowl
    tilt_max = np.deg2rad(rng.uniform(95, 120))
    keys = [("reach", home, a + grip + _v(0, 0, 0.12), 12), ("reach", a + grip + _v(0, 0, 0.12), a + grip, 8),
            ("grasp", None, None, 4), ("lift", a + grip, a + grip + _v(0, 0, 0.15), 8),
            ("carry", a + grip + _v(0, 0, 0.15), over, 14), ("pour", None, None, 16), ("return", None, None, 10),
            ("place", over, a + grip, 14), ("release", None, None, 4), ("retreat", a + grip, home, 12)]  # fmt: skip
    traj = Trajectory("pour", [cup, bowl])
    tip, held = home.copy(), False
    for phase, start, end, n in keys:
        count = frames(n)
        if phase in ("pour", "return"):
            lo, hi = (0.0, tilt_max) if phase == "pour" else (tilt_max, 0.0)
            angles = [lo + (hi - lo) * s for s in (1 - np.cos(np.linspace(0, np.pi, count + 1)[1:])) / 2]
            steps = [tip.copy()] * count
        else:
            steps = [tip.copy()] * count if start is None else _smooth(start, end, count)
            angles = [0.0] * count
        held = held or phase == "grasp"
        held = held and phase != "release"
        for tip, ang in zip(steps, angles, strict=True):
            rot = _tilt(ang, axis) if ang else np.eye(3)
            cup_pos = tip - rot @ np.array([0, 0, 0.05]) if held else a + _v(0, 0, 0.05)
            pose = {"cup": (cup_pos, rot), "bowl": (b + _v(0, 0, 0.02), np.eye(3))}
            traj.frames.append(Frame(pose, phase, tip.copy()))
    return traj


def _push(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    a = np.array([rng.uniform(-0.05, 0.1), rng.uniform(-0.2, 0.2), 0.0])
    ang = rng.uniform(-0.6, 0.6)
    d = np.array([np.cos(ang), np.sin(ang), 0.0])
    dist = rng.uniform(0.15, 0.25)
    block = Body("block", "box", (0.08, 0.08, 0.05), tuple(rng.uniform(0.2, 1.0, 3)))
    home = np.array([-0.1, 0.0, 0.35])
    behind = a - d * 0.075 + _v(0, 0, 0.015)
    keys = [("reach", home, behind + _v(0, 0, 0.15), 12), ("reach", behind + _v(0, 0, 0.15), behind, 8),
            ("push", behind, behind + d * dist, 18), ("retreat", behind + d * dist, home, 12)]  # fmt: skip
    traj = Trajectory("push", [block])
    rot = _frame_along(d, np.array([-d[1], d[0], 0.0]))
    for phase, start, end, n in keys:
        for tip in _smooth(start, end, frames(n)):
            pushed = min(dist, max(0.0, float((tip - behind) @ d))) if phase in ("push", "retreat") else 0.0
            pos = a + d * pushed + _v(0, 0, 0.025)
            traj.frames.append(Frame({"block": (pos, rot)}, phase, tip.copy()))
    return traj


def _reach(side: float) -> Script:
    """Reach to a marker on the left (``side`` +1, +y) or right (-1) of the table, touch it, come back."""

    def script(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
        a = np.array([rng.uniform(0.0, 0.2), side * rng.uniform(0.2, 0.32), 0.0])
        marker = Body("marker", "sphere", (0.03,), tuple(rng.uniform(0.2, 1.0, 3)))
        home = np.array([-0.1, 0.0, 0.35])
        touch = a + _v(0, 0, 0.05)
        keys = [("reach", home, touch + _v(0, 0, 0.1), 14), ("reach", touch + _v(0, 0, 0.1), touch, 8),
                ("touch", touch, touch, 6), ("retreat", touch, home, 14)]  # fmt: skip
        traj = Trajectory("reach_left" if side > 0 else "reach_right", [marker])
        for phase, start, end, n in keys:
            for tip in _smooth(start, end, frames(n)):
                traj.frames.append(Frame({"marker": (a + _v(0, 0, 0.03), np.eye(3))}, phase, tip.copy()))
        return traj

    return script


def _carry_object(task: str, bodies: list[Body], a: np.ndarray, keys: list, rest: dict) -> Trajectory:
    """Move the gripper through ``keys`` (phase, start, end, frames); the first body follows the gripper between
    ``grasp`` and ``release`` and otherwise rests where it was put down (``rest``: other bodies' poses)."""
    traj = Trajectory(task, bodies)
    name = bodies[0].name
    half = bodies[0].size[2] / 2
    tip, held, place = keys[0][1].copy(), False, a + _v(0, 0, half)
    for phase, start, end, n in keys:
        held = (held or phase == "grasp") and phase != "release"
        steps = [tip.copy()] * n if start is None else _smooth(start, end, n)
        for tip in steps:
            if held:
                place = tip - _v(0, 0, half)
            traj.frames.append(Frame({name: (place.copy(), np.eye(3)), **rest}, phase, tip.copy()))
    return traj


def _lift(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    a = np.array([rng.uniform(0.0, 0.2), rng.uniform(-0.15, 0.15), 0.0])
    cube = Body("cube", "box", (0.06, 0.06, 0.06), tuple(rng.uniform(0.2, 1.0, 3)))
    home, low, high = np.array([-0.1, 0.0, 0.35]), a + _v(0, 0, 0.06), a + _v(0, 0, rng.uniform(0.3, 0.38))
    keys = [
        ("reach", home, low + _v(0, 0, 0.12), frames(12)),
        ("reach", low + _v(0, 0, 0.12), low, frames(8)),
        ("grasp", None, None, frames(4)),
        ("lift", low, high, frames(14)),
        ("hold", None, None, frames(6)),
        ("lower", high, low, frames(12)),
        ("release", None, None, frames(4)),
        ("retreat", low, home, frames(12)),
    ]
    return _carry_object("lift", [cube], a, keys, {})  # fmt: skip


def _stack(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    a = np.array([rng.uniform(0.0, 0.2), rng.uniform(-0.3, -0.1), 0.0])
    b = np.array([rng.uniform(0.0, 0.2), rng.uniform(0.1, 0.3), 0.0])
    top = Body("top", "box", (0.05, 0.05, 0.05), tuple(rng.uniform(0.2, 1.0, 3)))
    base = Body("base", "box", (0.09, 0.09, 0.07), tuple(rng.uniform(0.2, 1.0, 3)))
    home, up = np.array([-0.1, 0.0, 0.35]), _v(0, 0, 0.2)
    grip, on = a + _v(0, 0, 0.05), b + _v(0, 0, 0.07 + 0.05)
    keys = [("reach", home, grip + up, frames(12)), ("reach", grip + up, grip, frames(8)),
            ("grasp", None, None, frames(4)), ("lift", grip, grip + up, frames(8)), ("carry", grip + up, on + up,
            frames(14)), ("stack", on + up, on, frames(10)), ("release", None, None, frames(4)),
            ("retreat", on, home, frames(12))]  # fmt: skip
    return _carry_object("stack", [top, base], a, keys, {"base": (b + _v(0, 0, 0.035), np.eye(3))})


def _wave(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    home = np.array([-0.1, 0.0, 0.35])
    centre = np.array([rng.uniform(0.0, 0.1), 0.0, rng.uniform(0.4, 0.5)])
    amp = rng.uniform(0.15, 0.22)
    keys = [("raise", home, centre, frames(10))]
    for k in range(int(rng.integers(2, 4))):
        keys += [("wave", centre + _v(0, amp, 0) * (k > 0), centre + _v(0, -amp, 0), frames(7)),
                 ("wave", centre + _v(0, -amp, 0), centre + _v(0, amp, 0), frames(7))]  # fmt: skip
    keys += [("lower", centre + _v(0, amp, 0), home, frames(10))]
    traj = Trajectory("wave", [])
    for phase, start, end, n in keys:
        for tip in _smooth(start, end, n):
            traj.frames.append(Frame({}, phase, tip.copy()))
    return traj


def _open(rng: np.random.Generator, frames: Callable[[int], int]) -> Trajectory:
    """Lift the lid of a box about its far hinge (+x edge) to ~100 degrees, let go, and come back."""
    a = np.array([rng.uniform(0.05, 0.2), rng.uniform(-0.15, 0.15), 0.0])
    box = Body("box", "box", (0.16, 0.12, 0.07), tuple(rng.uniform(0.2, 1.0, 3)))
    lid = Body("lid", "box", (0.16, 0.13, 0.015), tuple(rng.uniform(0.2, 1.0, 3)))
    hinge = a + _v(0.08, 0, 0.0775)
    home = np.array([-0.1, 0.0, 0.35])
    top = np.deg2rad(rng.uniform(95, 115))
    axis = np.array([0.0, 1.0, 0.0])

    def edge(angle: float) -> np.ndarray:  # the lid's free (-x) edge, where the gripper holds it
        return hinge + _tilt(angle, axis) @ _v(-0.16, 0, 0) if angle else hinge + _v(-0.16, 0, 0)

    traj = Trajectory("open", [box, lid])
    rest = {"box": (a + _v(0, 0, 0.035), np.eye(3))}

    def add(phase: str, tip: np.ndarray, angle: float) -> None:
        rot = _tilt(angle, axis) if angle else np.eye(3)
        lid_pose = (hinge + rot @ _v(-0.08, 0, 0), rot)
        traj.frames.append(Frame({**rest, "lid": lid_pose}, phase, tip.copy()))

    for tip in _smooth(home, edge(0.0) + _v(0, 0, 0.12), frames(12)):
        add("reach", tip, 0.0)
    for tip in _smooth(edge(0.0) + _v(0, 0, 0.12), edge(0.0), frames(8)):
        add("reach", tip, 0.0)
    n = frames(16)
    for s in (1 - np.cos(np.linspace(0, np.pi, n + 1)[1:])) / 2:
        add("open", edge(top * s), top * s)  # a positive turn about +y lifts the -x edge
    for tip in _smooth(edge(top), home, frames(12)):
        add("retreat", tip, top)
    return traj


TASKS: dict[str, Script] = {"pick_place": _pick_place, "pour": _pour, "push": _push, "reach_left": _reach(1.0),
                            "reach_right": _reach(-1.0), "lift": _lift, "stack": _stack, "wave": _wave,
                            "open": _open}  # fmt: skip
# the action-recognition classes (issue #14): distinct motions of the arm and the objects it works on
ACTION_TASKS = ["reach_left", "reach_right", "push", "lift", "pick_place", "stack", "pour", "wave", "open"]


@dataclass(frozen=True)
class Actor:
    """Who performs a task: the arm's colour, size (link lengths scaled) and pace (phase lengths scaled)."""

    color: tuple[float, float, float]
    scale: float
    pace: float

    def arm(self) -> ArmGeometry:
        a = ARM
        return ArmGeometry(a.base, a.shoulder_height * self.scale, a.upper * self.scale, a.fore * self.scale,
                           a.gripper, a.width * self.scale)  # fmt: skip


_ACTOR_COLORS = [(0.85, 0.85, 0.9), (0.95, 0.55, 0.2), (0.3, 0.55, 0.95), (0.35, 0.8, 0.4), (0.85, 0.3, 0.6),
                 (0.95, 0.85, 0.3), (0.5, 0.35, 0.25), (0.55, 0.4, 0.85)]  # fmt: skip


def actor_style(k: int) -> Actor:
    """Actor ``k`` (0: the default grey arm at normal pace); colours cycle, sizes and paces differ per actor.
    Arms are never smaller than the default, so every scripted target stays within reach."""
    if k == 0:
        return Actor(_ACTOR_COLORS[0], 1.0, 1.0)
    return Actor(_ACTOR_COLORS[k % len(_ACTOR_COLORS)], 1.0 + 0.06 * ((k * 5) % 4), (0.8, 1.2, 0.9, 1.1)[k % 4])


def script_task(task: str, rng: np.random.Generator, speed: tuple[float, float] = (0.75, 1.35),
                actor: Actor | None = None) -> Trajectory:  # fmt: skip
    """One execution of ``task`` by ``actor`` (default: actor 0): object placement and colours, and each phase's
    length scaled by a pace drawn from ``speed`` times the actor's pace (one pace per trajectory, jittered per
    phase), all from ``rng``. Arm links are included."""
    if task not in TASKS:
        raise ValueError(f"unknown video task {task!r}; available: {sorted(TASKS)}")
    actor = actor or actor_style(0)
    pace = rng.uniform(*speed) * actor.pace

    def frames(n: int) -> int:
        return max(2, round(n * pace * rng.uniform(0.85, 1.15)))

    traj = TASKS[task](rng, frames)
    arm = actor.arm()
    traj.bodies = arm_bodies(actor.color, arm) + traj.bodies
    for f in traj.frames:
        f.poses = {"table": (np.array([0.1, 0.0, -0.02]), np.eye(3)), **arm_pose(f.gripper, arm), **f.poses}
    return traj


def fpv_camera(frame: Frame, arm: ArmGeometry = ARM) -> np.ndarray:
    """A wrist camera that moves with the arm (OpenCV cam_to_world): mounted 8 cm beside and 6 cm above the
    wrist, 5 cm behind it, looking 15 cm ahead of and below the gripper tip, so the gripper and what it works
    on fill the view and the camera stays clear of every link."""
    base = np.asarray(arm.base, float)
    tip = np.asarray(frame.gripper, float)
    wrist = tip + _v(0, 0, arm.gripper)
    yaw = np.arctan2(wrist[1] - base[1], wrist[0] - base[0])
    u = _v(np.cos(yaw), np.sin(yaw), 0.0)
    side = _v(-np.sin(yaw), np.cos(yaw), 0.0)
    eye = wrist + 0.08 * side + _v(0, 0, 0.06) - 0.05 * u
    return look_at(eye, tip + 0.15 * u - _v(0, 0, 0.05))


def tpv_cameras(n: int, elevation: tuple[float, float] = (20.0, 50.0), distance: float = 1.2,
                azimuth_offset: float = 20.0) -> list[tuple[float, float, np.ndarray]]:  # fmt: skip
    """``n`` static third-person cameras around the workspace: (azimuth, elevation, cam_to_world), azimuths
    evenly spaced from ``azimuth_offset``, elevations alternating over ``elevation``."""
    from vantage.geometry import spherical_to_cartesian

    out = []
    for k in range(n):
        az = (azimuth_offset + 360.0 * k / n) % 360.0
        el = elevation[0] + (elevation[1] - elevation[0]) * ((k * 0.618) % 1.0)
        eye = WORKSPACE + spherical_to_cartesian(az, el, distance)
        out.append((az, el, look_at(eye, WORKSPACE)))
    return out
