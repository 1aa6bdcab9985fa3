"""Wall time of the video-alignment metrics (alignment error, cycle error, reference tau, tau-b) over many view
pairs at once, against a per-pair Python loop with scipy's tau-b (the way the reference computes them).
Target (issue #13): 100 view pairs of 300-frame sequences in under 1 s on the development machine.

    scripts/venv-run python benchmarks/alignment_metrics.py [--pairs 100] [--frames 300] [--dim 192] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

from vantage.eval.alignment import alignment_metrics

HERE = Path(__file__).resolve().parent


def _loop(z1: torch.Tensor, z2: torch.Tensor) -> list[tuple[float, float, float, float]]:
    out = []
    for a, b in zip(z1.numpy(), z2.numpy(), strict=True):
        d = ((a[:, None] - b[None]) ** 2).sum(-1)
        nn12, nn21 = d.argmin(1), d.argmin(0)
        n = len(a)
        conc = sum(nn12[i] < nn12[j] for i in range(n) for j in range(i + 1, n))
        pairs = n * (n - 1) / 2
        out.append((np.abs(np.arange(n) - nn12).mean() / n, np.abs(np.arange(n) - nn21[nn12]).mean() / n,
                    (conc - (pairs - conc)) / pairs, kendalltau(np.arange(n), nn12).statistic))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    z1 = torch.cumsum(torch.randn(args.pairs, args.frames, args.dim, generator=g), 1)
    z2 = z1 + 3 * torch.randn(z1.shape, generator=g)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        m = alignment_metrics(z1, z2)
        times.append(time.perf_counter() - start)
    k = min(10, args.pairs)
    start = time.perf_counter()
    ref = _loop(z1[:k], z2[:k])
    loop_s = (time.perf_counter() - start) / k * args.pairs
    for i, (ae, ce, tau, tb) in enumerate(ref):  # the two give the same numbers
        assert abs(m["align_err"][i] - ae) < 1e-9 and abs(m["cycle_err"][i] - ce) < 1e-9
        assert abs(m["tau"][i] - tau) < 1e-9 and abs(m["tau_b"][i] - tb) < 1e-9
    best = min(times)
    result = {"machine": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "pairs": args.pairs, "frames": args.frames, "dim": args.dim, "vectorised_seconds": [round(t, 4) for t
              in times], "loop_seconds_extrapolated": round(loop_s, 2)}  # fmt: skip
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "alignment_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Video-alignment metrics over many view pairs",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads.",
        f"Command: `scripts/venv-run python benchmarks/alignment_metrics.py --pairs {args.pairs} --frames "
        f"{args.frames} --dim {args.dim}`",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| `alignment_metrics`, {args.pairs} pairs x {args.frames} frames, D = {args.dim} (best of {args.repeats}) "
        f"| {best:.3f} |",
        f"| per-pair NumPy/scipy loop (timed on {k} pairs, scaled to {args.pairs}) | {loop_s:.1f} |",
        "",
        f"**{best:.3f} s (target < 1 s); {loop_s / best:.0f}x the loop. Both give the same four numbers per pair.**",
    ]
    (out / "alignment_metrics.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
