"""Build a multi-view dataset folder: render every object's view sets, atomically, resumably, in parallel.

Layout (see docs/data.md): ``dataset.json`` (card), ``metadata.jsonl`` (one row per image),
``checksums.sha256`` (``sha256sum -c`` format; its hash is the manifest hash), ``images/<object>/<view>.png``,
optional ``depth/<object>/<view>.npy`` (float16 metres) and ``mask/<object>/<view>.png``.

Work is split by object. A finished object is recorded in ``.parts/<object_id>.json`` (written last and
atomically), so a killed build re-run skips finished objects and re-renders the rest to identical bytes;
``metadata.jsonl`` and the card are written only once every object is done.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from vantage import __version__
from vantage.config import MAX_IMAGE_SIZE, ConfigError, config_hash, from_dict, load_preset, set_override, to_dict
from vantage.data.schema import CARD_FILE, CHECKSUM_FILE, METADATA_FILE, DatasetError, ViewRecord
from vantage.data.views import ViewSetConfig, caption_for, views_for
from vantage.data.workers import die_with_parent, npy_bytes
from vantage.errors import VantageError
from vantage.geometry import camera_pose
from vantage.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    encode_png,
    remove_stale_temps,
    sha256_bytes,
    sha256_file,
    vantage_home,
)
from vantage.render import RENDERERS, Background, Camera, Light, create_renderer
from vantage.shapes import ShapeObject, generate, get_category, in_domain_categories, out_of_domain_categories

__all__ = [
    "BuildConfig",
    "BuildError",
    "BuildResult",
    "CameraConfig",
    "MeshSourceConfig",
    "ObjectTask",
    "SplitConfig",
    "build_dataset",
    "build_folder",
    "dataset_dir",
    "load_build_config",
    "load_task_shape",
    "parse_shard",
    "plan_objects",
    "resolve_data_root",
    "run_build",
]

PARTS_DIR = ".parts"
# Bump when shapes, rendering or the file format change, so cached builds of an unchanged config are redone.
GENERATOR_VERSION = 2
GROUPS = ("train", "val", "test", "out")


class BuildError(VantageError, RuntimeError):
    """An object could not be built or rendered; the message names the object and, for meshes, the file."""


@dataclass
class SplitConfig:
    """Fractions of each in-domain category's objects that go to train / val / test (split by object)."""

    train: float = 0.7
    val: float = 0.15
    test: float = 0.15

    def __post_init__(self) -> None:
        fr = (self.train, self.val, self.test)
        if min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got train/val/test = {fr}")

    def counts(self, n: int) -> tuple[int, int, int]:
        """Object counts (train, val, test) for n objects; every non-zero fraction gets >= 1 object if n allows."""
        val = round(n * self.val) if self.val == 0 or n < 3 else max(1, round(n * self.val))
        test = round(n * self.test) if self.test == 0 or n < 3 else max(1, round(n * self.test))
        return n - val - test, val, test


@dataclass
class CameraConfig:
    """Camera distance from the object centre (objects fit the unit sphere), field of view, jitter."""

    distance: float = 3.0
    fov_deg: float = 40.0
    distance_jitter: float = 0.0  # relative: distance * U(1 - j, 1 + j) per view

    def __post_init__(self) -> None:
        if self.distance <= 1.0:
            raise ValueError(f"camera distance must exceed 1 (the object radius), got {self.distance}")
        if not 0.0 <= self.distance_jitter < 0.5:
            raise ValueError(f"distance_jitter must be in [0, 0.5), got {self.distance_jitter}")
        if not 1.0 <= self.fov_deg <= 170.0:
            raise ValueError(f"fov_deg must be in [1, 170] degrees, got {self.fov_deg}")


@dataclass
class MeshSourceConfig:
    """Render meshes from a user folder instead of the procedural zoo (``root`` unset: the zoo)."""

    root: str | None = None
    up: str = "+z"
    front: str = "+x"
    taxonomy: str | None = None  # folder name -> category name (ShapeNet's taxonomy.json, a JSON object or a CSV)


def _default_view_sets() -> dict[str, ViewSetConfig]:
    return {
        "fib50": ViewSetConfig("fibonacci", 50),
        "fib100": ViewSetConfig("fibonacci", 100),
        "triplet": ViewSetConfig("triplet", 20, step_deg=10.0),
        "canonical": ViewSetConfig("canonical", 12),
    }


def _default_assign() -> dict[str, list[str]]:
    return {
        "train": ["fib50", "triplet", "canonical"],
        "val": ["fib50", "canonical"],
        "test": ["fib50", "fib100", "canonical"],
        "out": ["fib50", "fib100", "canonical"],
    }


@dataclass
class BuildConfig:
    """Everything that determines a built dataset's bytes (its hash names the cache entry)."""

    name: str = "default"
    image_size: int = 64
    in_domain: list[str] = field(default_factory=in_domain_categories)
    out_of_domain: list[str] = field(default_factory=out_of_domain_categories)
    objects_per_category: int = 30
    objects_per_ood_category: int = 10
    split: SplitConfig = field(default_factory=SplitConfig)
    view_sets: dict[str, ViewSetConfig] = field(default_factory=_default_view_sets)
    assign: dict[str, list[str]] = field(default_factory=_default_assign)
    camera: CameraConfig = field(default_factory=CameraConfig)
    light: Light = field(default_factory=Light)
    background: Background = field(default_factory=Background)
    depth: list[str] = field(default_factory=lambda: ["test", "out"])
    mask: list[str] = field(default_factory=list)  # masks equal depth > 0; write them only if asked
    supersample: int = 1
    seed: int = 0
    meshes: MeshSourceConfig = field(default_factory=MeshSourceConfig)
    renderer: str = "pybullet"  # a name registered with vantage.render.register_renderer

    def __post_init__(self) -> None:
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer {self.renderer!r} is not registered; choose from {sorted(RENDERERS)}")
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be an integer in 1..{MAX_IMAGE_SIZE} pixels, got {size!r}")
        if self.objects_per_category < 1 or self.objects_per_ood_category < 0:
            raise ValueError("objects_per_category must be >= 1 and objects_per_ood_category >= 0")
        if self.supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {self.supersample}")
        if self.meshes.root is None:
            for key in ("in_domain", "out_of_domain"):
                for name in getattr(self, key):
                    get_category(name)  # raises UnknownCategoryError naming the known ones
        if not self.in_domain and self.meshes.root is None:
            raise ValueError("in_domain must list at least one category")
        bad = sorted(set(self.assign) - set(GROUPS))
        if bad:
            raise ValueError(f"assign has unknown group(s) {bad}; groups are {list(GROUPS)}")
        for group, names in self.assign.items():
            missing = [n for n in names if n not in self.view_sets]
            if missing:
                raise ValueError(
                    f"assign.{group} names undefined view set(s) {missing}; defined: {list(self.view_sets)}"
                )
        for key in ("depth", "mask"):
            bad = sorted(set(getattr(self, key)) - set(GROUPS))
            if bad:
                raise ValueError(f"{key} lists unknown group(s) {bad}; groups are {list(GROUPS)}")


@dataclass
class ObjectTask:
    """One object to render: identity, split and where its mesh comes from."""

    index: int
    object_id: str
    category: str
    domain: str
    split: str
    group: str
    seed: int
    mesh_path: str | None = None


@dataclass
class BuildResult:
    """What a build call did."""

    root: Path
    complete: bool
    manifest_hash: str | None
    rendered: int
    skipped: int
    images: int
    seconds: float


def plan_objects(cfg: BuildConfig) -> list[ObjectTask]:
    """All objects of a build, in a fixed order (in-domain categories, then out-of-domain)."""
    tasks: list[ObjectTask] = []

    def add(category: str, domain: str, objects: list[tuple[str, int, str | None]]) -> None:
        if domain == "in":
            n_train, n_val, _ = cfg.split.counts(len(objects))
            splits = ["train"] * n_train + ["val"] * n_val + ["test"] * (len(objects) - n_train - n_val)
        else:
            splits = ["test"] * len(objects)
        for (oid, seed, path), split in zip(objects, splits, strict=True):
            group = split if domain == "in" else "out"
            tasks.append(ObjectTask(len(tasks), oid, category, domain, split, group, seed, path))

    if cfg.meshes.root is None:
        for cats, domain, n in (
            (cfg.in_domain, "in", cfg.objects_per_category),
            (cfg.out_of_domain, "out", cfg.objects_per_ood_category),
        ):
            for c in cats:
                add(c, domain, [(f"{c}-{i:03d}", cfg.seed * 100_000 + i, None) for i in range(n)])
        return tasks

    from vantage.shapes.meshes import load_taxonomy, scan_mesh_folder

    names = load_taxonomy(cfg.meshes.taxonomy) if cfg.meshes.taxonomy else {}
    by_cat: dict[str, list] = {}
    for a in scan_mesh_folder(cfg.meshes.root):
        by_cat.setdefault(names.get(a.category, a.category), []).append(a)
    ood = list(cfg.out_of_domain)
    ind = [c for c in (cfg.in_domain or sorted(by_cat)) if c not in ood]
    for c in ind + ood:
        if c not in by_cat:
            raise ConfigError(f"category {c!r} has no folder in mesh root {cfg.meshes.root}; found: {sorted(by_cat)}")
    for cats, domain, n in ((ind, "in", cfg.objects_per_category), (ood, "out", cfg.objects_per_ood_category)):
        for c in cats:
            add(c, domain, [(a.object_id, 0, str(a.path)) for a in by_cat[c][:n]])
    return tasks


def parse_shard(shard: str) -> tuple[int, int]:
    """``"i/n"`` (``--shard``) -> ``(i, n)`` with ``0 <= i < n``; a ConfigError naming the value otherwise."""
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like i/n (e.g. 0/4), got {shard!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard i/n needs 0 <= i < n, got {shard!r}")
    return i, n


def load_build_config(preset: str | Path = "default", overrides: Sequence[str] = ()) -> BuildConfig:
    """The ``data`` section of a preset (name or YAML path) with ``key=value`` overrides applied."""
    data = dict(load_preset(preset).get("data", {}))
    for o in overrides:
        set_override(data, o)
    return from_dict(BuildConfig, data, f"preset {preset}: data")


def build_fingerprint(cfg: BuildConfig) -> str:
    """Hash of the config and the generator version: equal fingerprints mean byte-identical builds."""
    config = to_dict(cfg)
    if config.get("renderer") == "pybullet":  # the default renderer is implied, so older builds keep their hash
        del config["renderer"]
    return config_hash({"config": config, "generator_version": GENERATOR_VERSION})


def resolve_data_root(data: str | Path | None, preset: str, need_card: bool = True) -> Path:
    """The dataset a command works on: ``data`` if given, else the preset's cached build; a clear error when
    nothing is there (``need_card=False`` accepts any existing folder, e.g. an ImageFolder)."""
    root = Path(data) if data is not None else dataset_dir(load_build_config(preset))
    ok = (root / "dataset.json").is_file() if need_card else root.exists()
    if not ok:
        what = "built dataset" if need_card else "dataset"
        hint = "" if data is not None else f"; run `vantage data build --preset {preset}` or pass --data"
        raise DatasetError(f"no {what} at {root}{hint}")
    return root


def dataset_dir(cfg: BuildConfig) -> Path:
    """Cache folder of a build: ``$VANTAGE_HOME/datasets/<name>-<fingerprint[:12]>``."""
    return vantage_home() / "datasets" / f"{cfg.name}-{build_fingerprint(cfg)[:12]}"


# ------------------------------------------------------------------------------------------ worker side

_WORKER: dict = {}




def _init_worker(root: str, cfg: BuildConfig, worker: bool = True) -> None:
    if worker:
        die_with_parent()
    renderer = create_renderer(cfg.renderer, supersample=cfg.supersample)
    _WORKER.update(root=Path(root), cfg=cfg, renderer=renderer, hash=build_fingerprint(cfg))


def _rng(cfg: BuildConfig, *keys: str | int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, *[zlib.crc32(k.encode()) if isinstance(k, str) else k for k in keys]])




def load_task_shape(task: ObjectTask, cfg: BuildConfig) -> ShapeObject:
    """The object a task renders: a zoo instance, or the user's mesh file."""
    if task.mesh_path is None:
        return generate(task.category, task.seed)
    from vantage.shapes.meshes import load_mesh

    return load_mesh(task.mesh_path, task.category, cfg.meshes.up, cfg.meshes.front)


def _render_object(task: ObjectTask) -> int:
    """Render, encode and write every view of one object, then its part record. Returns images written."""
    root, cfg, renderer = _WORKER["root"], _WORKER["cfg"], _WORKER["renderer"]
    try:
        renderer.set_object(load_task_shape(task, cfg))
    except Exception as e:
        raise BuildError(f"object {task.object_id} ({task.category}): {type(e).__name__}: {e}") from e
    rows, files, sizes = [], {}, {}
    size = cfg.image_size
    for vs_name in cfg.assign.get(task.group, []):
        specs = views_for(vs_name, cfg.view_sets[vs_name], _rng(cfg, task.object_id, vs_name))
        # One appearance stream per (object, view set): distance jitter, then per view background and captions.
        look = _rng(cfg, task.object_id, vs_name, "appearance")
        dists = cfg.camera.distance * (1.0 + look.uniform(-1.0, 1.0, len(specs)) * cfg.camera.distance_jitter)
        poses = camera_pose(
            np.array([v.azimuth_deg for v in specs]),
            np.array([v.elevation_deg for v in specs]),
            dists,
            np.array([v.roll_deg for v in specs]),
        )
        for spec, dist, c2w in zip(specs, dists, poses, strict=True):
            out = renderer.render(Camera(c2w, size, size, cfg.camera.fov_deg), cfg.light, cfg.background, look)
            stem = f"{task.object_id}/{vs_name}_{spec.view_id:03d}"
            caption, view_caption = caption_for(task.category, spec.azimuth_deg, spec.elevation_deg, look)
            record = ViewRecord(
                file_name=f"images/{stem}.png",
                object_id=task.object_id,
                category=task.category,
                domain=task.domain,
                split=task.split,
                view_set=vs_name,
                view_id=spec.view_id,
                azimuth_deg=round(spec.azimuth_deg, 4),
                elevation_deg=round(spec.elevation_deg, 4),
                roll_deg=spec.roll_deg,
                distance=round(float(dist), 6),
                cam_to_world=np.round(c2w, 6).tolist(),
                fov_deg=cfg.camera.fov_deg,
                caption=caption,
                view_caption=view_caption,
                triplet_id=spec.triplet_id,
                triplet_pos=spec.triplet_pos,
            )
            blobs = {record.file_name: encode_png(out.rgb)}
            if task.group in cfg.depth:
                record.depth_file = f"depth/{stem}.npy"
                blobs[record.depth_file] = npy_bytes(out.depth)
            if task.group in cfg.mask:
                record.mask_file = f"mask/{stem}.png"
                blobs[record.mask_file] = encode_png(out.mask.astype(np.uint8) * 255)
            for rel, data in blobs.items():
                atomic_write_bytes(root / rel, data)
                files[rel] = sha256_bytes(data)
                sizes[rel] = len(data)
            rows.append(record.to_json())
    part = {"object_id": task.object_id, "fingerprint": _WORKER["hash"], "rows": rows, "files": files,
            "sizes": sizes}  # fmt: skip
    atomic_write_json(root / PARTS_DIR / f"{task.object_id}.json", part, indent=None)
    return len(rows)


# ------------------------------------------------------------------------------------------ driver side


def _part_done(root: Path, task: ObjectTask, want_hash: str) -> bool:
    """Whether an object's files are all there as its part record wrote them (same build, every file present
    with its recorded size; records from before sizes were kept are checked for presence)."""
    path = root / PARTS_DIR / f"{task.object_id}.json"
    if not path.is_file():
        return False
    try:
        part = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(part, dict) or part.get("fingerprint") != want_hash:
        return False
    sizes = part.get("sizes")
    for rel in part.get("files", {}):
        try:
            size = (root / rel).stat().st_size
        except OSError:
            return False
        if sizes is not None and sizes.get(rel) != size:
            return False
    return True


def _unlocked(root: Path) -> bool:
    """Whether no build holds ``root``'s lock right now."""
    lock = FileLock(str(root / PARTS_DIR / "build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def _prepare_root(root: Path, cfg_hash: str, cfg: Any, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise DatasetError(f"output path {root} is a file, not a directory; choose a folder path for --out")
    marker = root / PARTS_DIR / "build.json"
    if root.is_dir() and any(root.iterdir()):
        ours = marker.is_file() or (root / CARD_FILE).is_file()
        if not ours:
            raise DatasetError(f"output folder {root} is not empty and holds no vantage build; use a new folder")
        try:
            old = json.loads(marker.read_text()).get("fingerprint") if marker.is_file() else None
        except json.JSONDecodeError:
            old = "unreadable"
        if old != cfg_hash and not overwrite and not (root / CARD_FILE).is_file() and _unlocked(root):
            # an unfinished build of another config (a failed first attempt): nothing of it is usable for this one
            print(f"[vantage] replacing the unfinished build of another config in {root}", file=sys.stderr)
            overwrite = True
        if old != cfg_hash:
            if not overwrite:
                raise DatasetError(
                    f"output folder {root} holds a build with a different config (hash {str(old)[:12]} vs "
                    f"{cfg_hash[:12]}); use another --out or pass --overwrite to replace it"
                )
            if not _unlocked(root):
                raise BuildError(f"another build is writing {root} (it holds {root / PARTS_DIR / 'build.lock'}); "
                                 "--overwrite never deletes a running build")  # fmt: skip
            shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        atomic_write_json(marker, {"fingerprint": cfg_hash, "config": to_dict(cfg), "generator": __version__})


def _index_intact(root: Path, card: dict[str, Any]) -> bool:
    """Whether the published index still is what the card recorded: the checksums hash to its manifest and
    metadata.jsonl to its ``metadata_sha256`` (an emptied or edited index is rewritten from the part records)."""
    try:
        if sha256_file(root / CHECKSUM_FILE) != card.get("manifest_hash"):
            return False
        want = card.get("metadata_sha256")  # builds made before the field have none
        return want is None or sha256_file(root / METADATA_FILE) == want
    except OSError:
        return False


def _finalize(
    root: Path, cfg: Any, tasks: list[Any], cfg_hash: str, version: int = GENERATOR_VERSION
) -> tuple[str, int]:
    rows, files = [], {}
    for t in tasks:
        part = json.loads((root / PARTS_DIR / f"{t.object_id}.json").read_text())
        rows.extend(part["rows"])
        files.update(part["files"])
    checksums = "".join(f"{files[k]}  {k}\n" for k in sorted(files))
    manifest = sha256_bytes(checksums.encode())
    metadata = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    atomic_write_text(root / METADATA_FILE, metadata)
    atomic_write_text(root / CHECKSUM_FILE, checksums)

    def count(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            out[r[key]] = out.get(r[key], 0) + 1
        return dict(sorted(out.items()))

    card = {
        "name": cfg.name,
        "generator": {
            "name": "vantage",
            "version": __version__,
            "generator_version": version,
            "config": to_dict(cfg),
            "fingerprint": cfg_hash,
        },
        "categories": {
            "in": sorted({t.category for t in tasks if t.domain == "in"}),
            "out": sorted({t.category for t in tasks if t.domain == "out"}),
        },
        "view_sets": {k: to_dict(v) for k, v in getattr(cfg, "view_sets", {}).items()},
        "image_size": cfg.image_size,
        "counts": {
            "images": len(rows),
            "files": len(files),
            "objects": len(tasks),
            "objects_by_split": {
                s: sum(t.split == s for t in tasks if t.domain == "in") for s in ("train", "val", "test")
            }
            | {"out": sum(t.domain == "out" for t in tasks)},
            "by_split": count("split"),
            "by_domain": count("domain"),
            "by_view_set": count("view_set"),
            "by_category": count("category"),
        },
        "manifest_hash": manifest,
        "metadata_sha256": sha256_bytes(metadata.encode()),
        "checksums": CHECKSUM_FILE,
        "conventions": {
            "frame": "+Z up, object front faces +X",
            "azimuth": "from +X toward +Y, degrees",
            "elevation": "from the XY plane toward +Z, degrees",
            "cam_to_world": "OpenCV camera (x right, y down, z forward), p_world = M @ p_cam",
            "depth": "float16 z-depth in object units (objects fit the unit sphere); 0 = background",
        },
    }
    atomic_write_json(root / CARD_FILE, card)
    return manifest, len(rows)


def build_dataset(
    cfg: BuildConfig,
    out: str | Path,
    workers: int | None = None,
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build (or finish, or reuse) the dataset described by ``cfg`` in folder ``out``.

    ``shard=(i, n)`` renders only objects with index % n == i, so n jobs can share the work; whichever
    call finds every object done writes the metadata and card.
    """
    start = time.perf_counter()
    root = Path(out)
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    cfg_hash = build_fingerprint(cfg)
    tasks = plan_objects(cfg)  # a bad config or mesh folder fails here, before anything is written
    return build_folder(cfg, root, tasks, cfg_hash, _init_worker, _render_object, workers, shard, overwrite,
                        progress, start)  # fmt: skip


def build_folder(cfg: Any, root: Path, tasks: list[Any], cfg_hash: str, init: Callable[..., None],
                 render: Callable[[Any], int], workers: int | None = None, shard: tuple[int, int] = (0, 1),
                 overwrite: bool = False, progress: bool = True, start: float | None = None,
                 version: int = GENERATOR_VERSION) -> BuildResult:  # fmt: skip
    """Prepare ``root`` for the build ``cfg_hash`` (refusing a foreign or differently configured folder unless
    ``overwrite``), take its lock (one build at a time), and run :func:`run_build`."""
    start = time.perf_counter() if start is None else start
    fresh = not root.exists() or (root.is_dir() and not any(root.iterdir()))
    _prepare_root(root, cfg_hash, cfg, overwrite)
    lock = FileLock(str(root / PARTS_DIR / "build.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        msg = f"another build is writing {root} (it holds {lock.lock_file}); wait for it to finish"
        raise BuildError(msg) from None
    try:
        return run_build(cfg, root, tasks, cfg_hash, workers, shard, progress, start, init, render, version)
    except BaseException:
        remove_stale_temps(root)  # the workers are done (the pool waited for them): their temp files go too
        finished = set((root / PARTS_DIR).glob("*.json")) - {root / PARTS_DIR / "build.json"}
        if fresh and not finished:
            shutil.rmtree(root, ignore_errors=True)  # nothing finished: leave no folder to refuse a corrected run
        raise
    finally:
        lock.release()


def run_build(
    cfg: Any,
    root: Path,
    tasks: list[Any],
    cfg_hash: str,
    workers: int | None,
    shard: tuple[int, int],
    progress: bool,
    start: float,
    init: Callable[..., None],
    render: Callable[[Any], int],
    version: int = GENERATOR_VERSION,
) -> BuildResult:
    """The build driver every generator shares (call it holding the folder's lock): render the tasks of this
    shard that have no intact part record, with ``init(root, cfg[, worker])`` once per worker process and
    ``render(task) -> images``; when every task is done, write metadata, checksums and card."""  # fmt: skip
    from tqdm.auto import tqdm

    i, n = shard
    remove_stale_temps(root)
    todo = [t for t in tasks if t.index % n == i and not _part_done(root, t, cfg_hash)]
    skipped = sum(t.index % n == i for t in tasks) - len(todo)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    rendered = 0
    bar = tqdm(total=len(todo), desc=f"render {cfg.name}", unit="obj", disable=not progress or not todo)
    if workers == 1:
        init(str(root), cfg, worker=False)
        for t in todo:
            rendered += render(t)
            bar.update()
    elif todo:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init, initargs=(str(root), cfg)) as ex:
            pending = {ex.submit(render, t) for t in todo}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        rendered += f.result()
                        bar.update()
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
    bar.close()
    complete = all(_part_done(root, t, cfg_hash) for t in tasks)
    manifest, images = (None, rendered)
    if complete:
        card_path = root / CARD_FILE
        try:
            card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            card = {}  # rewritten below
        published = all((root / f).is_file() for f in (METADATA_FILE, CHECKSUM_FILE)) and _index_intact(root, card)
        if todo or not published or card.get("generator", {}).get("fingerprint") != cfg_hash:
            manifest, images = _finalize(root, cfg, tasks, cfg_hash, version)
        else:
            manifest, images = card["manifest_hash"], card["counts"]["images"]
    return BuildResult(root, complete, manifest, rendered, skipped, images, time.perf_counter() - start)
