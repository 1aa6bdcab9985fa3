"""The paper path runs: every suite of the ``paper`` preset at its real model shapes (224 px DeiT-T/S/B,
TimeSformer-B 8 x 224, OpenCLIP ViT-B/32, full-width ResNet-18) through ``vantage bench`` itself, on small
generated 224 px data, for one short epoch each (a few training steps) and its evaluation.

What differs from a paper run, and only this: the data (three objects per category split 1 / 1 / 1, a few views,
a few recordings per task), the batch size (``--batch``, 4 by default: paper batches do not fit a laptop), one
epoch, one seed, short probes, no learning-curve probes, OVT's short prompt list, and no downloaded weights (the
CLIP and TimeSformer starts are random at the same shapes: nothing can be downloaded here). Each case runs in its
own process; the record gives its wall time, training steps/s and peak memory (resident set on CPU,
``torch.cuda.max_memory_allocated`` on a GPU).

    scripts/venv-run python benchmarks/paper_smoke.py [--device cpu|cuda] [--batch 4] [--cases trl3d_base action]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

TIMESFORMER_B = {"patch_size": 16, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 3072}  # fmt: skip


def smoke_preset(batch: int, device: str) -> dict[str, Any]:
    """The ``paper`` preset with only the data, batch, length, seeds and weights shrunk (see the module doc)."""
    acc = {"accelerator": "gpu" if device.startswith("cuda") else "cpu", "num_workers": 0}
    return {
        "extends": "paper",
        "data": {"name": "paper-smoke", "objects_per_category": 3, "objects_per_ood_category": 1, "supersample": 1,
                 "split": {"train": 0.34, "val": 0.33, "test": 0.33},
                 "view_sets": {"fib50": {"kind": "fibonacci", "n": 6}, "fib100": {"kind": "fibonacci", "n": 6},
                               "triplet": {"kind": "triplet", "n": 2, "step_deg": 10},
                               "canonical": {"kind": "canonical", "n": 4, "azimuth_range": 35,
                                             "elevation_range": [5, 25]}}},
        "ssl": {"train": {**acc, "epochs": 1, "warmup_epochs": 0, "batch_size": max(2, batch)},
                "eval": {"linear_steps": 5, "pair_steps": 5},
                "bench": {"methods": ["vicreg"], "traj_weights": [0.2], "seeds": [0]}},
        "trl3d": {"train": {**acc, "epochs": 1, "warmup_epochs": 0, "batch_size": batch, "curve_points": 0},
                  "bench": {"variants": ["none", "faithful", "improved"], "seeds": [0], "depth_images": 8,
                            "panel_images": 2}},
        "ovt": {"base": {"pretrained": None, "epochs": 1, "batch_size": batch, "warmup_epochs": 0, **acc},
                "train": {**acc, "epochs": 1, "batch_size": batch, "clean_batch_size": max(1, batch // 2)},
                "eval": {"templates": "simple"}, "bench": {"variants": ["faithful", "improved"], "seeds": [0]}},
        "align": {"data": {"name": "video-paper-smoke", "tasks": ["pick_place", "pour"], "trajectories_per_task": 3,
                           "split": {"train": 0.34, "val": 0.33, "test": 0.33}, "tpv_cameras": 3, "seen_tpv": 2,
                           "frame_stride": 4, "supersample": 1},
                  "train": {**acc, "epochs": 1, "clips_per_sequence": 1},
                  "bench": {"variants": ["none", "improved"], "fractions": [1.0], "seeds": [0]}},
        "action": {"data": {"name": "action-paper-smoke", "tasks": ["reach_left", "push", "wave"], "actors": 2,
                            "trajectories_per_task": 1, "tpv_cameras": 3, "seen_tpv": 2, "frame_stride": 4,
                            "supersample": 1},
                   "train": {**acc, "pretrained": None, "epochs": 1, "batch_size": max(1, batch // 2),
                             "curve_points": 0, "clips_per_sequence": 1, "train_cameras": ["tpv0", "tpv1"],
                             "train_actors": ["a0"]},
                   "bench": {"variants": ["timesformer", "timesformer_improved"], "protocols": ["cross_view"],
                             "seeds": [0]}},
    }


# case -> (suite, extra --set overrides, the model shape it proves)
CASES: dict[str, tuple[str, list[str], str]] = {
    "pose_ssl": ("pose_ssl", [], "ResNet-18 (full width, CIFAR stem), 32 px, VICReg 2048x3 projector"),
    "trl3d_tiny": ("trl3d", [], "DeiT-T/16, 224 px, +3DTRL faithful / improved"),
    "trl3d_small": ("trl3d", ["trl3d.train.model=deit_small_patch16_224"], "DeiT-S/16, 224 px, +3DTRL"),
    "trl3d_base": ("trl3d", ["trl3d.train.model=deit_base_patch16_224", "trl3d.bench.variants=[none,improved]"],
                   "DeiT-B/16, 224 px, +3DTRL improved"),
    "ovt": ("ovt", [], "OpenCLIP ViT-B/32, 224 px, OVT faithful / improved"),
    "video_align": ("video_align", [], "DeiT-T/16 per frame, 224 px, 16-frame clips, TCN margin loss"),
    "action": ("action", [], "TimeSformer-B, 8 x 224 px, + 3DTRL improved"),
}


def _steps(run_root: Path) -> tuple[int, float]:
    """(training steps, training seconds) summed over the training runs under ``run_root``."""
    steps, seconds = 0, 0.0
    for timing in run_root.rglob("train_time.json"):
        seconds += float(json.loads(timing.read_text())["seconds"])
        rows = [r for f in (timing.parent / "logs").rglob("metrics.csv") for r in csv.DictReader(f.open())]
        steps += 1 + max((int(r["step"]) for r in rows if r.get("step")), default=-1)
    return steps, seconds


def child(case: str, preset: Path, out: Path, device: str, record: Path) -> None:
    """Run one case's bench in this process and write its record (wall time, steps/s, peak memory)."""
    import torch

    from vantage.cli import main as cli_main

    suite, extra, _ = CASES[case]
    sys.argv = ["vantage", "bench", "--preset", str(preset), "--suite", suite, "--out", str(out), "--device",
                device, "-q", *[a for s in extra for a in ("--set", s)]]  # fmt: skip
    t = time.perf_counter()
    code = 0
    try:
        cli_main()
    except SystemExit as e:
        code = int(e.code or 0)
    wall = time.perf_counter() - t
    steps, seconds = _steps(out)
    peak = (torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") and torch.cuda.is_available()
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)  # fmt: skip
    record.write_text(json.dumps({"case": case, "exit": code, "wall_s": round(wall, 1), "train_steps": steps,
                                  "train_s": round(seconds, 1),
                                  "steps_per_s": round(steps / seconds, 3) if seconds else None,
                                  "peak_gib": round(peak, 2)}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--child", nargs=4, metavar=("CASE", "PRESET", "OUT", "RECORD"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        case, preset, out, record = a.child
        child(case, Path(preset), Path(out), a.device, Path(record))
        return
    work = a.work or Path(tempfile.mkdtemp(prefix="vantage-paper-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    import yaml

    preset = work / "paper-smoke.yaml"
    preset.write_text(yaml.safe_dump(smoke_preset(a.batch, a.device), sort_keys=False))
    # runs from the work folder, so no ../shared/data/coil20 is found: the real-set scoring is not the paper path
    # (COIL-20 at 224 px through ViT-B/32 took 9 of the 10 minutes of the base CLIP's evaluation here)
    env = {k: v for k, v in os.environ.items() if k != "VANTAGE_COIL20"} | {"VANTAGE_HOME": str(work / "home")}
    rows = []
    for case in a.cases:
        record = work / f"{case}.json"
        record.unlink(missing_ok=True)
        log = work / f"{case}.log"
        with log.open("w") as f:
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--device", a.device, "--child", case,
                            str(preset), str(work / case), str(record)], env=env, cwd=work, stdout=f,
                           stderr=subprocess.STDOUT)  # fmt: skip
        row = json.loads(record.read_text()) if record.is_file() else {"case": case, "exit": "crashed"}
        row["model"] = CASES[case][2]
        if row.get("exit") != 0:
            row["error"] = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    import torch

    device = torch.cuda.get_device_name(0) if a.device.startswith("cuda") and torch.cuda.is_available() else (
        f"CPU ({platform.machine()}, {os.cpu_count()} cores)")  # fmt: skip
    stem = "paper_smoke_cuda" if a.device.startswith("cuda") else "paper_smoke"
    path = HERE / "results" / f"{stem}.json"
    if path.is_file():  # a run of some cases keeps the recorded rows of the others (same device and batch)
        old = json.loads(path.read_text())
        if old.get("device") == device and old.get("batch") == a.batch:
            done = {r["case"] for r in rows}
            rows = [r for r in old.get("rows", []) if r["case"] not in done] + rows
            rows.sort(key=lambda r: list(CASES).index(r["case"]) if r["case"] in CASES else len(CASES))
    record = {"device": device, "torch": torch.__version__, "batch": a.batch, "rows": rows,
              "preset": smoke_preset(a.batch, a.device)}  # fmt: skip
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    mem = "peak GPU GiB" if a.device.startswith("cuda") else "peak RSS GiB"
    lines = [f"# Paper-preset smoke run on {device}", "",
             f"`vantage bench --preset paper` shapes, batch {a.batch}, one epoch of small generated 224 px data, "
             "one seed, random starts (no downloads). Exit 0 = the suite trained, evaluated and reported.", "",
             f"| case | model | exit | wall s | train steps | steps/s | {mem} |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['model']} | {r.get('exit')} | {r.get('wall_s', '-')} | "
                     f"{r.get('train_steps', '-')} | {r.get('steps_per_s') or '-'} | {r.get('peak_gib', '-')} |")
    (HERE / "results" / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if any(r.get("exit") != 0 for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
