"""Video build throughput: the raw scene renderer vs the whole video build (issue #13).

Measured in one run so the ratios are meaningful:
  raw        one process, ``PyBulletScene.render`` calls only: the default preset's tasks scripted and filmed
             from the wrist camera and every third-person camera, no encoding or writing
  pipeline   ``build_video_dataset`` with the default preset's video section (3 tasks, 7 cameras), 1 and
             ``--workers`` processes, wall time including process start, scripting, PNG encoding, fsynced atomic
             writes, metadata and checksums, writing under ``--dir`` (default: $VANTAGE_HOME/bench-tmp)
Compared: pipeline / (raw single-core x workers), the share of the ideal parallel speed the build reaches.

    scripts/venv-run python benchmarks/video_build.py      # writes benchmarks/results/video_build.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from vantage.data.video import build_video_dataset, load_video_config
from vantage.data.video_tasks import fpv_camera, script_task, tpv_cameras
from vantage.io import vantage_home
from vantage.render import Camera
from vantage.render.scene import PyBulletScene

HERE = Path(__file__).resolve().parent


def raw_throughput(size: int, trajectories: int) -> tuple[float, int]:
    """(images/s, images) of scene.render() alone on one core, over ``trajectories`` per task."""
    cfg = load_video_config("default", [f"image_size={size}"])
    scene = PyBulletScene(cfg.supersample)
    static = [c2w for _, _, c2w in tpv_cameras(cfg.tpv_cameras, tuple(cfg.tpv_elevation), cfg.tpv_distance)]
    total, n = 0.0, 0
    for task in cfg.tasks:
        for k in range(trajectories):
            rng = np.random.default_rng(k)
            traj = script_task(task, rng, tuple(cfg.speed))
            scene.clear()
            for body in traj.bodies:
                scene.add(body)
            start = time.perf_counter()
            for frame in traj.frames[:: cfg.frame_stride]:
                for name, (pos, rot) in frame.poses.items():
                    scene.set_pose(name, pos, rot)
                for v, c2w in enumerate([fpv_camera(frame), *static]):
                    fov = cfg.fpv_fov_deg if v == 0 else cfg.fov_deg
                    scene.render(Camera(c2w, size, size, fov), cfg.light, cfg.background, rng)
                    n += 1
            total += time.perf_counter() - start
    scene.close()
    return n / total, n


def pipeline_throughput(size: int, workers: int, trajectories: int, where: Path) -> tuple[float, int, float]:
    """(images/s, images, seconds) of a real video build at ``size`` px."""
    cfg = load_video_config("default", [f"image_size={size}", f"trajectories_per_task={trajectories}",
                                        "name=bench"])  # fmt: skip
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        res = build_video_dataset(cfg, Path(tmp) / "v", workers=workers, progress=False)
    return res.images / res.seconds, res.images, res.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--trajectories", type=int, default=4, help="trajectories per task")
    ap.add_argument("--dir", type=Path, default=vantage_home() / "bench-tmp", help="folder the builds write under")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "video_build")
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        raw, raw_n = raw_throughput(size, args.trajectories)
        one, n_img, one_s = pipeline_throughput(size, 1, args.trajectories, args.dir)
        many, _, many_s = pipeline_throughput(size, args.workers, args.trajectories, args.dir)
        rows.append({
            "image_size": size, "images": n_img, "raw_images_per_s": round(raw, 1), "raw_images": raw_n,
            "pipeline_1_worker": round(one, 1), "pipeline_1_worker_s": round(one_s, 2),
            "pipeline_workers": args.workers, "pipeline_all": round(many, 1), "pipeline_all_s": round(many_s, 2),
            "ratio_1_worker": round(one / raw, 3), "ratio_all_vs_ideal": round(many / (raw * args.workers), 3),
        })  # fmt: skip
        print(json.dumps(rows[-1]))
    record = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
              "command": "scripts/venv-run python benchmarks/video_build.py", "rows": rows}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# Video build throughput (issue #13)",
        "",
        f"`{record['command']}` on {record['machine']['cpus']} CPUs ({record['machine']['platform']}). The default "
        "video preset (3 tasks, a wrist camera + 6 static cameras), "
        f"{args.trajectories} trajectories per task. raw = `PyBulletScene.render` alone on one core; pipeline = "
        "`build_video_dataset` wall time (scripting, render, PNG encode, fsynced atomic writes, metadata).",
        "",
        "| px | images | raw img/s (1 core) | build img/s, 1 worker | build img/s, all workers | 1 worker / raw | "
        "all / (raw x workers) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['image_size']} | {r['images']} | {r['raw_images_per_s']} | {r['pipeline_1_worker']} | "
                     f"{r['pipeline_all']} ({r['pipeline_workers']}) | {r['ratio_1_worker']} | "
                     f"{r['ratio_all_vs_ideal']} |")  # fmt: skip
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
