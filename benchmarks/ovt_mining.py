"""OVT's max step over a whole training set: the vectorised `mine_outlier_views` vs a per-object Python loop.

100,000 view embeddings (D = 512, 1,000 objects x 100 views, clustered per object), 5 nearest views for the
density, 5 outliers per object, density-weighted centres. Both produce the same centres and outliers (checked
here, and in tests/test_clip.py). The loop groups the rows once (argsort) and then works object by object, so
the ratio measures vectorisation, not a naive scan. Best of ``--repeats`` wall times, one process.
Target (issue #5): loop / vectorised >= 50.

    scripts/venv-run python benchmarks/ovt_mining.py [--objects 1000] [--views 100] [--dim 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from vantage.losses import mine_outlier_views, mine_outlier_views_loop

HERE = Path(__file__).resolve().parent


def best_time(fn, repeats: int) -> tuple[float, object]:
    """Shortest wall time over ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--views", type=int, default=100)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    obj = torch.arange(args.objects).repeat_interleave(args.views)
    obj = obj[torch.randperm(len(obj), generator=g)]  # rows in arbitrary order, as a loader yields them
    emb = torch.randn(len(obj), args.dim, generator=g) + 2 * torch.randn(args.objects, args.dim, generator=g)[obj]
    fast_s, fast = best_time(lambda: mine_outlier_views(emb, obj), args.repeats)
    loop_s, loop = best_time(lambda: mine_outlier_views_loop(emb, obj), args.repeats)
    same = bool(torch.equal(fast.outlier, loop.outlier) and torch.allclose(fast.centres, loop.centres, atol=1e-5))
    result = {
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "embeddings": len(obj),
        "objects": args.objects,
        "views_per_object": args.views,
        "dim": args.dim,
        "seconds": {"vectorised": round(fast_s, 3), "loop": round(loop_s, 3)},
        "ratio_loop_over_vectorised": round(loop_s / fast_s, 1),
        "identical_results": same,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "ovt_mining.json").write_text(json.dumps(result, indent=2))
    md = [
        "# OVT max step (mining) over a whole training set: vectorised vs per-object loop",
        "",
        f"Machine: {result['machine']['platform']}, torch {torch.__version__}, {torch.get_num_threads()} threads.",
        f"{len(obj):,} embeddings (D = {args.dim}, {args.objects} objects x {args.views} views); best of "
        f"{args.repeats}. Command: `scripts/venv-run python benchmarks/ovt_mining.py`",
        "",
        "| implementation | seconds |",
        "|---|---:|",
        f"| vectorised (`mine_outlier_views`) | {fast_s:.3f} |",
        f"| per-object loop (`mine_outlier_views_loop`) | {loop_s:.3f} |",
        "",
        f"**Ratio loop / vectorised = {result['ratio_loop_over_vectorised']}** (target >= 50); identical centres "
        f"and outliers: {same}.",
    ]
    (out / "ovt_mining.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[-2:]))


if __name__ == "__main__":
    main()
