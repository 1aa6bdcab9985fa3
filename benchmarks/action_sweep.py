"""Action-recognition training sweep (issue #23's experiment log): train one configuration of the action
classifier in a plain loop (the training run's own keyed clips, frame jitter and augmentation) and print its
learning curve (training loss, training-clip top-1, held-out top-1) as JSON lines.

    python benchmarks/action_sweep.py --data <action build> --protocol cross_subject --set lr=0.003 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from vantage.data.sampling import EpochSampler
from vantage.models import video_logits
from vantage.train.action import ActionTrainConfig, KeyedClips, action_data, build_action_model


def _tensors(clips) -> tuple[torch.Tensor, torch.Tensor]:
    items = [clips[i] for i in range(len(clips))]
    return torch.stack([it["frames"] for it in items]), torch.tensor([it["label"] for it in items])


@torch.no_grad()
def _top1(model, x: torch.Tensor, y: torch.Tensor, bs: int = 32) -> float:
    model.eval()
    pred = torch.cat([video_logits(model, x[i:i + bs]).argmax(1) for i in range(0, len(x), bs)])
    model.train()
    return 100.0 * float((pred == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--protocol", default="cross_subject")
    ap.add_argument("--set", nargs="*", default=[], help="ActionTrainConfig field=json value")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--points", type=int, default=6, help="learning-curve points")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    fields = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    cfg = ActionTrainConfig(protocol=a.protocol, epochs=a.epochs, seed=a.seed,
                            train_cameras=["tpv0", "tpv1", "tpv2", "tpv3"], **fields)
    torch.manual_seed(a.seed)
    t0 = time.time()
    clips = action_data(a.data, cfg, "train")
    xtr, ytr = _tensors(clips)  # the fixed spread: the fit is measured on these, without augmentation
    xte, yte = _tensors(action_data(a.data, cfg, "test", clips_per_sequence=1))
    fit_idx = torch.arange(0, len(xtr), cfg.clips_per_sequence)  # one clip per (recording, camera)
    model = build_action_model(cfg, int(max(ytr.max(), yte.max())) + 1)
    step_model = torch.compile(model) if a.compile else model
    opt = (torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
           if cfg.optimizer == "sgd" else torch.optim.AdamW(model.parameters(), lr=cfg.lr,
                                                            weight_decay=cfg.weight_decay))
    per_epoch = max(1, len(xtr) // cfg.batch_size)
    total, warm = a.epochs * per_epoch, cfg.warmup_epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / max(1, warm) if s < warm else
                                              0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    marks = {round(total * (i + 1) / a.points) for i in range(a.points)}
    print(json.dumps({"config": fields, "protocol": a.protocol, "epochs": a.epochs, "train_clips": len(xtr),
                      "test_clips": len(xte), "load_s": round(time.time() - t0, 1)}), flush=True)
    step, losses, t1 = 0, [], time.time()
    sampler = EpochSampler(len(clips), a.seed)
    loader = torch.utils.data.DataLoader(KeyedClips(clips, cfg), batch_size=cfg.batch_size, sampler=sampler,
                                         drop_last=True)
    for epoch in range(a.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(video_logits(step_model, x), y,
                                                     label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
            if step in marks:
                print(json.dumps({"step": step, "loss": round(sum(losses[-per_epoch:]) / len(losses[-per_epoch:]), 4),
                                  "train_top1": round(_top1(model, xtr[fit_idx], ytr[fit_idx]), 1),
                                  "test_top1": round(_top1(model, xte, yte), 1),
                                  "train_s": round(time.time() - t1, 1)}), flush=True)


if __name__ == "__main__":
    main()
