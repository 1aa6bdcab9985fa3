"""Import throughput of each camera-posed format, and how fast a bad `vantage data import` answers.

Renders a 2,000-image posed set (20 objects x Fib(100) views at --size px), exports it as nerfstudio, COLMAP
(text and binary) and CO3D, then times the real command `vantage data import SRC --format F --out DIR` in a
subprocess (start-up included) for each, alternating formats over --repeats rounds; images/s is images / wall
time. The error latency is the wall time of `vantage data import SRC --format nope` (one line, exit 1), median of
five. The day's calibration (this machine's speed varies by up to 2x) is the time of a fixed PNG decode + encode
loop, measured in the same run.

    scripts/venv-run python benchmarks/import_throughput.py [--size 128] [--repeats 2]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMATS = [("nerfstudio", False), ("colmap", False), ("colmap", True), ("co3d", False)]


def _calibrate(size: int) -> float:
    """Seconds for 200 PNG decode + encode round trips of one rendered-size image (the import's inner loop)."""
    import numpy as np
    from PIL import Image

    img = Image.fromarray((np.random.default_rng(0).random((size, size, 3)) * 255).astype("uint8"))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    start = time.perf_counter()
    for _ in range(200):
        out = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(out, format="PNG")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from vantage.data import BuildConfig, build_dataset, export_dataset
    from vantage.data.views import ViewSetConfig

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = BuildConfig(name="posed2k", image_size=args.size, in_domain=["airplane", "car", "chair", "mug"],
                          out_of_domain=[], objects_per_category=5, objects_per_ood_category=0,
                          view_sets={"fib100": ViewSetConfig("fibonacci", 100)}, depth=[],
                          assign={k: ["fib100"] for k in ("train", "val", "test", "out")})  # fmt: skip
        start = time.perf_counter()
        build_dataset(cfg, tmp / "set", workers=2, progress=False)
        print(f"rendered the set in {time.perf_counter() - start:.1f} s", flush=True)
        exports, rows = {}, []
        for fmt, binary in FORMATS:
            key = f"{fmt}{' (binary)' if binary else ''}"
            start = time.perf_counter()
            res = export_dataset(tmp / "set", tmp / f"exp-{fmt}-{binary}", fmt, binary=binary)
            exports[key] = (fmt, res.root, res.frames, round(time.perf_counter() - start, 2))
        for r in range(args.repeats):
            for key, (fmt, root, frames, export_s) in exports.items():
                cmd = [sys.executable, "-m", "vantage", "data", "import", str(root), "--format", fmt,
                       "--out", str(tmp / f"imp-{r}-{key.replace(' ', '')}")]  # fmt: skip
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                wall = time.perf_counter() - start
                rows.append({"format": key, "repeat": r, "images": frames, "wall_seconds": round(wall, 2),
                             "images_per_s": round(frames / wall, 1), "export_seconds": export_s})  # fmt: skip
                print(rows[-1], flush=True)
        bad = [sys.executable, "-m", "vantage", "data", "import", str(tmp / "set"), "--format", "nope",
               "--out", str(tmp / "x")]  # fmt: skip
        latency = []
        for _ in range(5):
            start = time.perf_counter()
            proc = subprocess.run(bad, capture_output=True, text=True)
            latency.append(time.perf_counter() - start)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    calib = _calibrate(args.size)
    best = {k: max(x["images_per_s"] for x in rows if x["format"] == k) for k in exports}
    result = {"machine": platform.platform(), "date": time.strftime("%Y-%m-%d"), "image_size": args.size,
              "calibration_png_roundtrip_200_s": round(calib, 3), "runs": rows, "best_images_per_s": best,
              "error_latency_s": [round(x, 3) for x in latency], "error_line": proc.stderr.strip()}  # fmt: skip
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "import_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Import throughput of the camera-posed formats, and the error latency",
        "",
        f"Machine: {platform.platform()}, 2 cores; {result['date']}. Command: "
        f"`scripts/venv-run python benchmarks/import_throughput.py --size {args.size} --repeats {args.repeats}`.",
        f"A 2,000-image set (20 rendered objects x Fib(100), {args.size} px PNG) exported in each format, then "
        "imported by the real command in a subprocess (start-up included). Calibration of the day: 200 PNG "
        f"decode + encode round trips of one {args.size} px image took {calib:.2f} s.",
        "",
        "| format | repeat | images | wall s | images/s | export s |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {x['format']} | {x['repeat']} | {x['images']} | {x['wall_seconds']} | {x['images_per_s']} | "
          f"{x['export_seconds']} |" for x in rows),
        "",
        f"Error latency (`vantage data import ... --format nope`, one line, exit 1): median "
        f"{statistics.median(latency):.2f} s of 5 ({', '.join(f'{x:.2f}' for x in latency)} s).",
    ]
    (out / "import_throughput.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
