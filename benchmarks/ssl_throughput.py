"""Training throughput: `vantage train ssl` (Lightning) vs a minimal plain-PyTorch loop doing the same work.

Both train the default preset's backbone (quarter-width ResNet-18, CIFAR conv1 + max-pool, 32 px) with VICReg
(lightly's head and loss) + the trajectory loss (weight 0.1), LARS, batch 64, the same triplet loader, for one
epoch of the default data, in one process run, alternating (plain, vantage, plain, vantage) so drift and
page-cache effects hit both. Images/s counts every image through the backbone (2 augmented centres + the
L/C/R triplet = 5 per sample). Wall time is end to end, including model and loader set-up and, for vantage,
checkpoint writes and logging: what a user waits for.
Target (issue #3): vantage / plain >= 0.9.

    scripts/venv-run python benchmarks/ssl_throughput.py [--data DIR] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from vantage.bench import method_settings
from vantage.config import from_dict
from vantage.data import dataset_dir, load_build_config
from vantage.losses import trajectory_loss
from vantage.train import SSLTrainConfig, build_backbone, train_ssl
from vantage.train.ssl import triplet_loader

HERE = Path(__file__).resolve().parent


def plain_loop(cfg: SSLTrainConfig, data: Path) -> tuple[float, int]:
    """(seconds, images) of one epoch written as a bare PyTorch loop with the same parts."""
    from lightly.loss import VICRegLoss
    from lightly.models.modules.heads import VICRegProjectionHead
    from lightly.utils.lars import LARS

    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    backbone = build_backbone(cfg)
    head = VICRegProjectionHead(backbone.num_features, cfg.hidden_dim, cfg.proj_dim, num_layers=3)
    criterion = VICRegLoss()
    params = list(backbone.parameters()) + list(head.parameters())
    opt = LARS(params, lr=cfg.lr * cfg.batch_size / 256, momentum=0.9, weight_decay=cfg.weight_decay)
    loader = triplet_loader(data, cfg)
    images = 0
    for batch in loader:
        b = batch["centre"].shape[0]
        loss = criterion(head(backbone(batch["centre_aug1"])), head(backbone(batch["centre_aug2"])))
        z = backbone(torch.cat([batch["left"], batch["centre"], batch["right"]]))
        loss = loss + cfg.traj_weight * trajectory_loss(z[:b], z[b : 2 * b], z[2 * b :])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        images += 5 * b
    return time.perf_counter() - start, images


def vantage_run(cfg: SSLTrainConfig, data: Path) -> tuple[float, int]:
    """(seconds, images) of one epoch through `train_ssl` (the code `vantage train ssl` runs)."""
    n = len(triplet_loader(data, cfg)) * cfg.batch_size  # drop_last: full batches only
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_ssl(cfg, data, Path(tmp) / "run", progress=False)
        return time.perf_counter() - start, 5 * n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="default: the default preset's cached build")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    data = args.data or dataset_dir(load_build_config("default"))
    train = method_settings("pose_ssl", "default").raw["train"]
    cfg = from_dict(SSLTrainConfig, {**train, "method": "vicreg", "traj_weight": 0.1, "accelerator": "cpu"})
    rows = []
    for r in range(args.repeats):
        for name, fn in (("plain", plain_loop), ("vantage", vantage_run)):
            seconds, images = fn(cfg, data)
            rows.append({"repeat": r, "runner": name, "seconds": round(seconds, 2), "images": images})
            print(f"{name:8s} repeat {r}: {images / seconds:7.1f} img/s ({images} images, {seconds:.1f} s)", flush=True)
    rate = {
        n: sum(x["images"] for x in rows if x["runner"] == n) / sum(x["seconds"] for x in rows if x["runner"] == n)
        for n in ("plain", "vantage")
    }
    result = {
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "config": {k: v for k, v in vars(cfg).items()},
        "data": str(data),
        "runs": rows,
        "images_per_second": {k: round(v, 1) for k, v in rate.items()},
        "ratio_vantage_over_plain": round(rate["vantage"] / rate["plain"], 3),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "ssl_throughput.json").write_text(json.dumps(result, indent=2))
    md = [
        "# SSL training throughput: `vantage train ssl` vs a plain PyTorch loop",
        "",
        f"Machine: {result['machine']['platform']}, torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "One epoch of the default data (VICReg + trajectory loss 0.1, quarter-width ResNet-18, 32 px, batch 64,",
        "LARS), end-to-end wall time, runs alternated. Command: `scripts/venv-run python benchmarks/ssl_throughput.py`",
        "",
        "| runner | repeat | images | seconds | images/s |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {x['runner']} | {x['repeat']} | {x['images']} | {x['seconds']} | {x['images'] / x['seconds']:.1f} |"
            for x in rows
        ),
        "",
        f"Mean: plain {rate['plain']:.1f} img/s, vantage {rate['vantage']:.1f} img/s; "
        f"**ratio vantage / plain = {result['ratio_vantage_over_plain']:.3f}** (target >= 0.9).",
    ]
    (out / "ssl_throughput.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[-1:]))


if __name__ == "__main__":
    main()
