"""Action recognition speed (issue #14): TimeSformer training clips/s with and without 3DTRL, and the clip
loader's throughput against the training step, in one run.

  train     fwd + bwd + AdamW step of the default preset's CPU TimeSformer (4 blocks, 64 wide, 8 frames of 32 px,
            batch 8) without 3DTRL, + faithful, + improved; the models are timed alternately (median of repeats),
            so the ratios compare like with like
  forward   the same for a TimeSformer-Base architecture (12 blocks, 768 wide; the Kinetics-400 checkpoint's
            shape, random weights) at 8 frames of 112 px, batch 1, forward only
  loader    ``ActionClipDataset`` + DataLoader over the default action data (decoded and resized PNGs, batch 8) with
            0 and 1 worker processes, and with the frame cache warm (``cache_frames``, the CPU default: every
            epoch after the first): clips/s, against the training step's clips/s

    scripts/venv-run python benchmarks/action_speed.py     # writes benchmarks/results/action_speed.{json,md}
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from vantage.data.video import build_video_dataset, load_video_config
from vantage.models import add_3dtrl, create_timesformer, video_logits
from vantage.train.action import ActionTrainConfig, action_data

HERE = Path(__file__).resolve().parent
MODES = ("none", "faithful", "improved")


def _models(num_classes: int, frames: int, size: int, config: dict | None) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    base = create_timesformer(num_classes, frames, size, config)
    return {m: base if m == "none" else add_3dtrl(copy.deepcopy(base), mode=m) for m in MODES}


def train_speed(batch: int, repeats: int) -> dict[str, dict[str, float]]:
    """Training clips/s per 3DTRL mode (alternating timing, median)."""
    models = _models(9, 8, 32, None)
    opts = {m: torch.optim.AdamW(net.parameters(), 1e-3) for m, net in models.items()}
    video, label = torch.randn(batch, 8, 3, 32, 32), torch.randint(0, 9, (batch,))
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(repeats + 2):
        for m, net in models.items():
            start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(video_logits(net, video), label)
            loss.backward()
            opts[m].step()
            opts[m].zero_grad()
            if r >= 2:  # warm-up
                times[m].append(time.perf_counter() - start)
    out = {}
    for m in MODES:
        med = statistics.median(times[m])
        out[m] = {"ms_per_step": round(1000 * med, 2), "clips_per_s": round(batch / med, 1),
                  "params": sum(p.numel() for p in models[m].parameters())}  # fmt: skip
    return out


@torch.no_grad()
def forward_speed(size: int, repeats: int) -> dict[str, dict[str, float]]:
    """Forward ms of a TimeSformer-Base-shaped model (random weights) per 3DTRL mode."""
    base_cfg = {"patch_size": 16, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                "intermediate_size": 3072}  # fmt: skip
    models = {m: net.eval() for m, net in _models(400, 8, size, base_cfg).items()}
    video = torch.randn(1, 8, 3, size, size)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(repeats + 1):
        for m, net in models.items():
            start = time.perf_counter()
            video_logits(net, video)
            if r >= 1:
                times[m].append(time.perf_counter() - start)
    return {m: {"ms": round(1000 * statistics.median(times[m]), 1),
                "params": sum(p.numel() for p in models[m].parameters())} for m in MODES}  # fmt: skip


def loader_speed(workers: int, batches: int, cache: bool = False) -> dict[str, float]:
    """Clips/s of the real training loader over the default action data (built if missing); ``cache``: after one
    full pass has filled the frame cache."""
    cfg = ActionTrainConfig(**{**_train_section(), "cache_frames": cache})
    res = build_video_dataset(load_video_config("default", section="action.data"), progress=False)
    clips = action_data(res.root, cfg, "train")
    if cache:
        for i in range(len(clips)):
            clips[i]
    loader = torch.utils.data.DataLoader(clips, batch_size=8, shuffle=True, num_workers=workers, collate_fn=_stack)
    it, n = iter(loader), 0
    next(it)  # start-up (worker spawn) is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        try:
            n += len(next(it))
        except StopIteration:
            it = iter(loader)
    return {"workers": workers, "cache": cache, "clips_per_s": round(n / (time.perf_counter() - start), 1)}


def _stack(items: list[dict]) -> torch.Tensor:
    return torch.stack([i["frames"] for i in items])


def _train_section() -> dict:
    from vantage.config import load_preset

    return dict(load_preset("default")["action"]["train"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--base-size", type=int, default=112)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "action_speed")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    train = train_speed(8, args.repeats)
    print(json.dumps({"train": train}))
    fwd = forward_speed(args.base_size, max(3, args.repeats // 5))
    print(json.dumps({"forward_base": fwd}))
    loaders = [loader_speed(0, 40), loader_speed(1, 40), loader_speed(0, 40, cache=True)]
    print(json.dumps({"loader": loaders}))
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
               "threads": torch.get_num_threads()}  # fmt: skip
    record = {"machine": machine, "command": "scripts/venv-run python benchmarks/action_speed.py", "train": train,
              "forward_base": fwd, "loader": loaders}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    t0, f0 = train["none"], fwd["none"]
    lines = [
        "# Action recognition speed: TimeSformer ± 3DTRL, and the clip loader (issue #14)",
        "",
        f"`{record['command']}` on {record['machine']['cpus']} CPUs ({record['machine']['platform']}, torch "
        f"{record['machine']['torch']}, {record['machine']['threads']} threads); models timed alternately in one run, "
        "medians.",
        "",
        "| model | params | train ms/step (b=8, 8x32 px) | clips/s | ratio | TimeSformer-B fwd ms (b=1, "
        f"8x{args.base_size} px) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in MODES:
        name = "TimeSformer" if m == "none" else f"+3DTRL {m}"
        lines.append(f"| {name} | {train[m]['params']:,} | {train[m]['ms_per_step']} | {train[m]['clips_per_s']} | "
                     f"{train[m]['ms_per_step'] / t0['ms_per_step']:.3f} | {fwd[m]['ms']} | "
                     f"{fwd[m]['ms'] / f0['ms']:.3f} |")  # fmt: skip
    lines += ["", "| clip loader (default action data, batch 8) | clips/s | x the training step's clips/s |",
              "|---|---:|---:|"]  # fmt: skip
    for ld in loaders:
        what = "frame cache warm, in process" if ld["cache"] else f"{ld['workers']} worker process(es), PNG decode"
        lines.append(f"| {what} | {ld['clips_per_s']} | "
                     f"{ld['clips_per_s'] / t0['clips_per_s']:.1f} |")  # fmt: skip
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
