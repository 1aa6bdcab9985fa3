"""Render throughput: the raw TinyRenderer vs the whole build pipeline (render + PNG/NPY encode + atomic write).

Measured in one run so the ratios are meaningful:
  raw        one process, ``renderer.render`` calls only (one object of each of the 24 categories, Fib(50) views)
  encode     as raw, plus PNG encoding of the image (what the pipeline does per image before writing), in memory
  pipeline   ``build_dataset`` with the default preset's view sets and depth/mask rules, 1 and ``--workers``
             processes, wall time including process start, shape generation, encoding and atomic file writes,
             writing under ``--dir`` (default: $VANTAGE_HOME/bench-tmp, where real builds write)
Target (issue #2): pipeline >= 0.7 x raw single-core x workers.

    scripts/venv-run python benchmarks/render_throughput.py            # writes benchmarks/results/render_throughput.*
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from vantage.data import build_dataset, load_build_config
from vantage.geometry import camera_pose, fibonacci_angles
from vantage.io import encode_png, vantage_home
from vantage.render import Camera, PyBulletRenderer
from vantage.shapes import generate, in_domain_categories, out_of_domain_categories

HERE = Path(__file__).resolve().parent


def raw_throughput(size: int, views: int = 50, encode: bool = False) -> float:
    """Images/s of render() alone (or render + PNG encode) on one core."""
    renderer = PyBulletRenderer()
    az, el = fibonacci_angles(views)
    cams = [Camera(camera_pose(a, e, 3.0), size, size, 40.0) for a, e in zip(az, el, strict=True)]
    total, n = 0.0, 0
    for cat in in_domain_categories() + out_of_domain_categories():
        renderer.set_object(generate(cat, 0))
        renderer.render(cams[0])  # warm-up
        start = time.perf_counter()
        for cam in cams:
            out = renderer.render(cam)
            if encode:
                encode_png(out.rgb)
        total += time.perf_counter() - start
        n += len(cams)
    renderer.close()
    return n / total


def pipeline_throughput(size: int, workers: int, objects: int, where: Path) -> tuple[float, int, float]:
    """(images/s, images, seconds) of a real build with the default preset's view sets at ``size`` px."""
    cfg = load_build_config(
        "default",
        [f"image_size={size}", f"objects_per_category={objects}", f"objects_per_ood_category={objects}", "name=bench"],
    )
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        res = build_dataset(cfg, Path(tmp) / "d", workers=workers, progress=False)
    return res.images / res.seconds, res.images, res.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--objects", type=int, default=3, help="objects per category in the pipeline build")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "render_throughput")
    default_dirs = [f"disk={vantage_home() / 'bench-tmp'}"] + (["tmpfs=/dev/shm"] if Path("/dev/shm").is_dir() else [])
    ap.add_argument("--dirs", nargs="+", default=default_dirs, help="label=folder pairs the pipeline writes under")
    args = ap.parse_args()
    dirs = dict(d.split("=", 1) for d in args.dirs)
    rows = []
    for size in args.sizes:
        raw = raw_throughput(size)
        enc = raw_throughput(size, encode=True)
        for label, where in dirs.items():
            one, _, _ = pipeline_throughput(size, 1, args.objects, Path(where))
            multi, images, secs = pipeline_throughput(size, args.workers, args.objects, Path(where))
            rows.append(
                {
                    "size": size,
                    "write_to": label,
                    "write_dir": where,
                    "raw_single_core_img_s": round(raw, 1),
                    "render_encode_single_core_img_s": round(enc, 1),
                    "pipeline_1_worker_img_s": round(one, 1),
                    "pipeline_workers": args.workers,
                    "pipeline_img_s": round(multi, 1),
                    "pipeline_images": images,
                    "pipeline_seconds": round(secs, 2),
                    "ratio_vs_raw_x_workers": round(multi / (raw * args.workers), 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"machine": machine, "objects_per_category": args.objects, "rows": rows}, indent=2) + "\n"
    )
    w = args.workers
    lines = [
        f"| size | writes to | raw render, 1 core | render + PNG encode, 1 core | pipeline, 1 worker | pipeline, {w} "
        f"workers | pipeline / (raw x {w}) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['write_to']} | {r['raw_single_core_img_s']} | {r['render_encode_single_core_img_s']} "
            f"| {r['pipeline_1_worker_img_s']} | {r['pipeline_img_s']} | {r['ratio_vs_raw_x_workers']:.2f} |"
        )
    args.out.with_suffix(".md").write_text("Images per second.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
