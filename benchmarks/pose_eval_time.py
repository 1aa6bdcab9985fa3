"""Wall time of the full semantic + pose benchmark of one checkpoint on the default data.

Runs the real command, `vantage eval pose-ssl --checkpoint C` (all taps of the default preset: pooled,
conv3, conv4; every scenario plus COIL-20), in a subprocess, so the time includes start-up, image decoding,
feature extraction, kNN, probes and writing the report. Without --checkpoint a default-preset VICReg model
is trained for one epoch first (not timed).
Target (issue #3): under 2 minutes on the development machine.

    scripts/venv-run python benchmarks/pose_eval_time.py [--checkpoint C] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            run = Path(tmp) / "ssl"
            cmd = [sys.executable, "-m", "vantage", "train", "ssl", "--out", str(run), "-q"]
            subprocess.run(cmd, check=True, capture_output=True)
            ckpt = run / "checkpoints" / "last.ckpt"
        rows = []
        for r in range(args.repeats):
            cmd = [sys.executable, "-m", "vantage", "eval", "pose-ssl", "--checkpoint", str(ckpt), "-q"]
            cmd += ["--out", str(Path(tmp) / f"eval{r}")]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            wall = time.perf_counter() - start
            inner = json.loads((Path(tmp) / f"eval{r}" / "pose_ssl.json").read_text())["seconds"]
            rows.append({"repeat": r, "wall_seconds": round(wall, 1), "inside": inner})
            print(f"repeat {r}: {wall:.1f} s wall; {inner}", flush=True)
    best = min(x["wall_seconds"] for x in rows)
    result = {
        "machine": platform.platform(),
        "checkpoint": str(args.checkpoint or "fresh 1-epoch VICReg"),
        "runs": rows,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "pose_eval_time.json").write_text(json.dumps(result, indent=2))
    md = [
        "# Full pose-SSL evaluation of one checkpoint (default data)",
        "",
        f"Machine: {platform.platform()}. Command: `scripts/venv-run python benchmarks/pose_eval_time.py`",
        "(times `vantage eval pose-ssl --checkpoint C`: taps pooled, conv3, conv4; semantics, absolute and relative",
        "pose in-domain / unseen poses / unseen categories, COIL-20).",
        "",
        "| repeat | wall s | features s | pooled s | conv3 s | conv4 s |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {x['repeat']} | {x['wall_seconds']} | {x['inside'].get('features')} | {x['inside'].get('tap:pooled')} "
            f"| {x['inside'].get('tap:conv3')} | {x['inside'].get('tap:conv4')} |"
            for x in rows
        ),
        "",
        f"**Fastest wall time {best:.1f} s** (target < 120 s).",
    ]
    (out / "pose_eval_time.md").write_text("\n".join(md) + "\n")
    print(md[-1])


if __name__ == "__main__":
    main()
