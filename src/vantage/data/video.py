"""Multi-view video builds: scripted tasks filmed by a first-person camera that moves with the arm and by static
third-person cameras, all frame-synchronised, written in the data contract with the same guarantees as image
builds (resumable, atomic, sharded by trajectory, byte-identical on rebuild, verifiable).

Layout: ``images/<trajectory>/<camera>_<frame>.png`` (+ ``depth/...npy`` when ``depth``); one row per frame
and camera with ``sequence_id`` (the trajectory), ``frame_index``, ``camera_id`` (``fpv``, ``tpv0``...),
``phase``, exact ``cam_to_world`` and ``camera_group`` (``fpv``, ``seen`` or ``unseen``: the first
``seen_tpv`` third-person cameras are the training views of the unseen-view protocol). With ``actors > 1`` every
task is performed by each actor (arm colour, size and pace; rows carry ``actor``) ``trajectories_per_task`` times,
as action-recognition data needs; ``fpv: false`` films with the static cameras only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vantage.config import MAX_IMAGE_SIZE, config_hash, from_dict, load_preset, set_override, to_dict
from vantage.data.build import PARTS_DIR, BuildError, BuildResult, SplitConfig, build_folder
from vantage.data.schema import ViewRecord
from vantage.data.workers import die_with_parent, npy_bytes
from vantage.geometry import cartesian_to_spherical
from vantage.io import atomic_write_bytes, atomic_write_json, encode_png, sha256_bytes, vantage_home
from vantage.render import Background, Camera, Light

__all__ = [
    "VIDEO_GENERATOR_VERSION",
    "TrajectoryTask",
    "VideoConfig",
    "build_video_dataset",
    "camera_ids",
    "load_video_config",
    "plan_trajectories",
    "resolve_video_root",
    "video_dataset_dir",
    "video_fingerprint",
]  # fmt: skip

VIDEO_GENERATOR_VERSION = 1


@dataclass
class VideoConfig:
    """Everything that determines a video build's bytes (the preset's ``video`` section)."""

    name: str = "video"
    tasks: list[str] = field(default_factory=lambda: ["pick_place", "pour", "push"])
    trajectories_per_task: int = 6
    split: SplitConfig = field(default_factory=lambda: SplitConfig(train=0.5, val=0.17, test=0.33))
    image_size: int = 64
    tpv_cameras: int = 6
    seen_tpv: int = 3
    tpv_elevation: list[float] = field(default_factory=lambda: [20.0, 50.0])
    tpv_distance: float = 1.2
    fov_deg: float = 45.0
    fpv_fov_deg: float = 70.0
    speed: list[float] = field(default_factory=lambda: [0.75, 1.35])
    frame_stride: int = 1
    depth: bool = False
    light: Light = field(default_factory=Light)
    background: Background = field(default_factory=Background)
    supersample: int = 1
    seed: int = 0
    actors: int = 1  # performers per task (trajectories_per_task each); > 1 adds an ``actor`` column
    fpv: bool = True  # film with the wrist camera too

    def __post_init__(self) -> None:
        from vantage.data.video_tasks import TASKS

        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ValueError(f"video tasks {bad or self.tasks} invalid; choose from {sorted(TASKS)}")
        if self.trajectories_per_task < 1 or self.frame_stride < 1 or self.actors < 1:
            raise ValueError("trajectories_per_task, actors and frame_stride must be >= 1")
        if not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be in 8..{MAX_IMAGE_SIZE} pixels, got {self.image_size}")
        if not 0 <= self.seen_tpv <= self.tpv_cameras or self.tpv_cameras < 1:
            raise ValueError(f"need 1 <= tpv_cameras and 0 <= seen_tpv <= tpv_cameras, got {self.seen_tpv} of "
                             f"{self.tpv_cameras}")  # fmt: skip
        if len(self.speed) != 2 or not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be [low, high] with 0 < low <= high, got {self.speed}")
        if not (1 <= self.fov_deg <= 170 and 1 <= self.fpv_fov_deg <= 170):
            raise ValueError("fov_deg and fpv_fov_deg must be in [1, 170] degrees")


@dataclass
class TrajectoryTask:
    """One trajectory to script and film."""

    index: int
    object_id: str
    category: str
    domain: str
    split: str
    seed: int
    actor: int | None = None  # None: a single-actor build (no actor column)


def camera_ids(cfg: VideoConfig) -> list[str]:
    """``fpv`` (unless ``fpv`` is off) then ``tpv0`` ... ``tpv<V-1>``."""
    return ["fpv"] * cfg.fpv + [f"tpv{k}" for k in range(cfg.tpv_cameras)]


def plan_trajectories(cfg: VideoConfig) -> list[TrajectoryTask]:
    """Every trajectory, split by trajectory within each task and actor (train / val / test counts from
    ``split``)."""
    tasks = []
    n_train, n_val, _ = cfg.split.counts(cfg.trajectories_per_task)
    for task in cfg.tasks:
        for a in range(cfg.actors):
            for k in range(cfg.trajectories_per_task):
                split = "train" if k < n_train else "val" if k < n_train + n_val else "test"
                if cfg.actors == 1:
                    name, seed, actor = f"{task}-{k:03d}", zlib.crc32(f"{cfg.seed}/{task}/{k}".encode()), None
                else:
                    name, seed, actor = f"{task}-a{a}-{k:03d}", zlib.crc32(f"{cfg.seed}/{task}/a{a}/{k}".encode()), a
                tasks.append(TrajectoryTask(len(tasks), name, task, "in", split, seed, actor))
    return tasks


def video_fingerprint(cfg: VideoConfig) -> str:
    """Hash of the config and the generator version: equal fingerprints mean byte-identical builds (fields added
    later are left out at their defaults, so earlier builds keep their hash)."""
    fields = to_dict(cfg)
    for key, default in (("actors", 1), ("fpv", True)):
        if fields.get(key) == default:
            del fields[key]
    return config_hash({"video": fields, "generator_version": VIDEO_GENERATOR_VERSION})


def video_dataset_dir(cfg: VideoConfig) -> Path:
    """Cache folder of a video build: ``$VANTAGE_HOME/datasets/<name>-<fingerprint[:12]>``."""
    return vantage_home() / "datasets" / f"{cfg.name}-{video_fingerprint(cfg)[:12]}"


def load_video_config(preset: str, overrides: tuple[str, ...] | list[str] = (),
                      section: str = "align.data") -> VideoConfig:  # fmt: skip
    """A video section of a preset (``align.data`` for the alignment videos, ``action.data`` for the action
    videos), with ``key=value`` overrides."""
    fields: object = load_preset(preset)
    for key in section.split("."):
        fields = (fields.get(key, {}) if isinstance(fields, dict) else {}) or {}
    fields = dict(fields) if isinstance(fields, dict) else {}
    for o in overrides:
        set_override(fields, o)
    return from_dict(VideoConfig, fields, f"preset {preset}: {section}")


# ------------------------------------------------------------------------------------------ worker side

_WORKER: dict = {}


def resolve_video_root(data: str | Path | None, preset: str, section: str = "align.data") -> Path:
    """The video dataset a command works on: ``data`` if given, else the preset's ``section`` build; a clear
    error naming the build command when nothing is there."""
    from vantage.data.schema import DatasetError

    root = Path(data) if data is not None else video_dataset_dir(load_video_config(preset, section=section))
    if not (root / "dataset.json").is_file():
        kind, flag = ("video", "--video") if section == "align.data" else ("action", "--action")
        hint = "" if data else f"; run `vantage data build {flag} --preset {preset}` or pass --data"
        raise DatasetError(f"no built {kind} dataset at {root}{hint}")
    return root


def _init_video_worker(root: str, cfg: VideoConfig, worker: bool = True) -> None:
    from vantage.render.scene import PyBulletScene

    if worker:
        die_with_parent()
    _WORKER.update(root=Path(root), cfg=cfg, scene=PyBulletScene(cfg.supersample), hash=video_fingerprint(cfg))




def _render_trajectory(task: TrajectoryTask) -> int:
    """Script one trajectory, film every frame from every camera, write the files and the part record."""
    from vantage.data.video_tasks import WORKSPACE, actor_style, fpv_camera, script_task, tpv_cameras

    root, cfg, scene = _WORKER["root"], _WORKER["cfg"], _WORKER["scene"]
    rng = np.random.default_rng(task.seed)
    try:
        traj = script_task(task.category, rng, tuple(cfg.speed), actor_style(task.actor or 0))
    except Exception as e:
        raise BuildError(f"trajectory {task.object_id}: {type(e).__name__}: {e}") from e
    scene.clear()
    for body in traj.bodies:
        scene.add(body)
    static = tpv_cameras(cfg.tpv_cameras, tuple(cfg.tpv_elevation), cfg.tpv_distance)
    ids = camera_ids(cfg)
    size = cfg.image_size
    rows, files, sizes = [], {}, {}
    for t, frame in enumerate(traj.frames[:: cfg.frame_stride]):
        for name, (pos, rot) in frame.poses.items():
            scene.set_pose(name, pos, rot)
        poses = [fpv_camera(frame)] * cfg.fpv + [c2w for _, _, c2w in static]
        for v, (cam_id, c2w) in enumerate(zip(ids, poses, strict=True), start=0 if cfg.fpv else 1):
            fov = cfg.fpv_fov_deg if v == 0 else cfg.fov_deg
            out = scene.render(Camera(c2w, size, size, fov), cfg.light, cfg.background, rng)
            rel = c2w[:3, 3] - WORKSPACE
            az, el, _ = (float(x) for x in cartesian_to_spherical(rel))
            stem = f"{task.object_id}/{cam_id}_{t:04d}"
            group = "fpv" if v == 0 else "seen" if v - 1 < cfg.seen_tpv else "unseen"
            record = ViewRecord(
                file_name=f"images/{stem}.png", object_id=task.object_id, category=task.category, domain="in",
                split=task.split, view_set="video", view_id=v, azimuth_deg=round(az % 360.0, 4),
                elevation_deg=round(el, 4), distance=round(float(np.linalg.norm(rel)), 6),
                cam_to_world=np.round(c2w, 6).tolist(), fov_deg=fov, caption=f"a robot arm, {task.category}",
                sequence_id=task.object_id, frame_index=t, camera_id=cam_id, phase=frame.phase,
                extra={"camera_group": group} | ({} if task.actor is None else {"actor": f"a{task.actor}"}),
            )  # fmt: skip
            blobs = {record.file_name: encode_png(out.rgb)}
            if cfg.depth:
                record.depth_file = f"depth/{stem}.npy"
                blobs[record.depth_file] = npy_bytes(out.depth)
            for path, data in blobs.items():
                atomic_write_bytes(root / path, data)
                files[path], sizes[path] = sha256_bytes(data), len(data)
            rows.append(record.to_json())
    part = {"object_id": task.object_id, "fingerprint": _WORKER["hash"], "rows": rows, "files": files,
            "sizes": sizes}  # fmt: skip
    atomic_write_json(root / PARTS_DIR / f"{task.object_id}.json", part, indent=None)
    return len(rows)


def build_video_dataset(cfg: VideoConfig, out: str | Path | None = None, workers: int | None = None,
                        shard: tuple[int, int] = (0, 1), overwrite: bool = False,
                        progress: bool = True) -> BuildResult:  # fmt: skip
    """Build (or finish, or reuse) the video dataset ``cfg`` in ``out`` (default: the cache); resumable and
    shardable by trajectory exactly as :func:`vantage.data.build_dataset` is by object."""
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    root = Path(out) if out is not None else video_dataset_dir(cfg)
    tasks = plan_trajectories(cfg)
    return build_folder(cfg, root, tasks, video_fingerprint(cfg), _init_video_worker, _render_trajectory,
                        workers, shard, overwrite, progress, version=VIDEO_GENERATOR_VERSION)  # fmt: skip
