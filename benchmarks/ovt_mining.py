"""OVT's max step over a whole training set: the vectorised `mine_outlier_views` vs a per-object Python loop.

100,000 view embeddings (D = 512), clustered per object, 5 nearest views for the density, 5 outliers per object,
density-weighted centres; the issue's shape is 1,000 objects x 100 views, and the same 100k rows are also split
as 10,000 objects x 10 views (many small objects, where per-object overhead dominates). Both implementations
produce the same centres and outliers (checked here, and in tests/test_clip.py). The loop groups the rows once
(argsort) and then works object by object, so the ratio measures vectorisation, not a naive scan. Best of
``--repeats`` wall times, one process. Target (issue #5): loop / vectorised >= 50 at 1,000 x 100.

    scripts/venv-run python benchmarks/ovt_mining.py [--shapes 1000x100 10000x10] [--dim 512] [--repeats 3]
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


def measure(objects: int, views: int, dim: int, repeats: int) -> dict:
    """Both implementations on one synthetic set of ``objects`` x ``views`` embeddings."""
    g = torch.Generator().manual_seed(0)
    obj = torch.arange(objects).repeat_interleave(views)
    obj = obj[torch.randperm(len(obj), generator=g)]  # rows in arbitrary order, as a loader yields them
    emb = torch.randn(len(obj), dim, generator=g) + 2 * torch.randn(objects, dim, generator=g)[obj]
    fast_s, fast = best_time(lambda: mine_outlier_views(emb, obj), repeats)
    loop_s, loop = best_time(lambda: mine_outlier_views_loop(emb, obj), repeats)
    same = bool(torch.equal(fast.outlier, loop.outlier) and torch.allclose(fast.centres, loop.centres, atol=1e-5))
    return {
        "embeddings": len(obj),
        "objects": objects,
        "views_per_object": views,
        "seconds": {"vectorised": round(fast_s, 3), "loop": round(loop_s, 3)},
        "ratio_loop_over_vectorised": round(loop_s / fast_s, 1),
        "identical_results": same,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["1000x100", "10000x10"], help="objects x views per object")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for shape in args.shapes:
        objects, views = (int(x) for x in shape.split("x"))
        rows.append(measure(objects, views, args.dim, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "dim": args.dim,
        "runs": rows,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "ovt_mining.json").write_text(json.dumps(result, indent=2))
    md = [
        "# OVT max step (mining) over a whole training set: vectorised vs per-object loop",
        "",
        f"Machine: {result['machine']['platform']}, torch {torch.__version__}, {torch.get_num_threads()} threads.",
        f"D = {args.dim}; best of {args.repeats}. Command: `scripts/venv-run python benchmarks/ovt_mining.py`",
        "",
        "| embeddings | objects x views | vectorised s | per-object loop s | loop / vectorised | identical |",
        "|---:|---|---:|---:|---:|---|",
        *(
            f"| {r['embeddings']:,} | {r['objects']} x {r['views_per_object']} | {r['seconds']['vectorised']} | "
            f"{r['seconds']['loop']} | **{r['ratio_loop_over_vectorised']}** | {r['identical_results']} |"
            for r in rows
        ),
        "",
        "Target (issue #5): >= 50 at 1,000 x 100.",
    ]
    (out / "ovt_mining.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[-4:]))


if __name__ == "__main__":
    main()
