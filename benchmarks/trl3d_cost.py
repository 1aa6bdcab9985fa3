"""Cost of 3DTRL: parameters, FLOPs (torch.utils.flop_counter) and CPU latency of DeiT-T/S/B with and without
the layer (faithful and improved), at 224 px, beside the paper's Table 1.

Latency: batch 1 (and 8), eval mode, no grad, median of repeated runs; baseline and +3DTRL are timed
alternately in one process so they share the machine's state. Targets (issue #4): faithful parameter deltas
equal 6D^2 + 44D + 1287; latency ratio <= 1.10.

    scripts/venv-run python benchmarks/trl3d_cost.py [--repeats 15] [--sizes tiny small base]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

from vantage.models import add_3dtrl, trl3d_param_formula

HERE = Path(__file__).resolve().parent
PAPER = {  # Table 1 of the paper: params (M) and MACs (G), baseline -> +3DTRL
    "tiny": {"params": (5.72, 5.95), "macs": (1.08, 1.10)},
    "small": {"params": (22.1, 23.0), "macs": (4.24, 4.33)},
    "base": {"params": (86.6, 90.1), "macs": (16.7, 17.2)},
}
NAMES = {"tiny": "deit_tiny_patch16_224", "small": "deit_small_patch16_224", "base": "deit_base_patch16_224"}


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _flops(m: torch.nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(x)
    return fc.get_total_flops()


def _latencies(models: dict[str, torch.nn.Module], x: torch.Tensor, repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in models}
    with torch.no_grad():
        for m in models.values():
            m(x)  # warm-up
        for _ in range(repeats):
            for k, m in models.items():  # alternate, so drift hits every model alike
                t = time.perf_counter()
                m(x)
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--sizes", nargs="+", default=["tiny", "small", "base"], choices=list(NAMES))
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        torch.manual_seed(0)
        models = {
            "baseline": timm.create_model(NAMES[size], pretrained=False).eval(),
            "faithful": add_3dtrl(timm.create_model(NAMES[size], pretrained=False), mode="faithful").eval(),
            "improved": add_3dtrl(timm.create_model(NAMES[size], pretrained=False), mode="improved").eval(),
        }
        dim = models["baseline"].embed_dim
        x1 = torch.randn(1, 3, 224, 224)
        flops = {k: _flops(m, x1) for k, m in models.items()}
        lat1 = _latencies(models, x1, args.repeats)
        lat8 = _latencies(models, torch.randn(8, 3, 224, 224), max(3, args.repeats // 3))
        base_p = _params(models["baseline"])
        for k, m in models.items():
            rows.append(
                {
                    "size": size,
                    "model": k,
                    "params": _params(m),
                    "param_delta": _params(m) - base_p,
                    "formula_delta": trl3d_param_formula(dim),
                    "gmacs": round(flops[k] / 2e9, 4),
                    "latency_ms_b1": round(lat1[k], 2),
                    "latency_ms_b8": round(lat8[k], 2),
                    "latency_ratio_b1": round(lat1[k] / lat1["baseline"], 3),
                    "latency_ratio_b8": round(lat8[k] / lat8["baseline"], 3),
                }
            )
            print(rows[-1], flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    machine = f"{platform.platform()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    (out / "trl3d_cost.json").write_text(json.dumps({"machine": machine, "rows": rows, "paper": PAPER}, indent=2))
    md = [
        "# 3DTRL cost: parameters, FLOPs and CPU latency (224 px)",
        "",
        f"Machine: {machine}. Command: `scripts/venv-run python benchmarks/trl3d_cost.py`.",
        "MACs = FLOPs / 2 from torch.utils.flop_counter (matmuls and convolutions). Latency: median of repeated",
        "forward passes, models timed alternately in one run.",
        "",
        "| DeiT | model | params | delta | 6D²+44D+1287 | GMACs | paper params (M) | paper GMACs "
        "| ms (b=1) | ratio | ms (b=8) | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        paper = PAPER[r["size"]]
        i = 0 if r["model"] == "baseline" else 1
        md.append(
            f"| {r['size']} | {r['model']} | {r['params']:,} | {r['param_delta']:,} | {r['formula_delta']:,} | "
            f"{r['gmacs']:.3f} | {paper['params'][i]} | {paper['macs'][i]} | {r['latency_ms_b1']} | "
            f"{r['latency_ratio_b1']} | {r['latency_ms_b8']} | {r['latency_ratio_b8']} |"
        )
    (out / "trl3d_cost.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
