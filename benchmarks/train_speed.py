"""How well each suite's training step spends this CPU: steps/s of the default preset's model eager vs
``torch.compile``d (alternated in one run), the FLOPs of one step (forward + backward, torch.utils.flop_counter)
and the share of this machine's matmul rate (an fp32 1024^3 matmul on the same threads, measured in the same run).

Inputs are random tensors of the training batch's shapes (the speed of a step does not depend on the pixels).

    scripts/venv-run python benchmarks/train_speed.py [--rounds 3] [--steps 5] [--suites action trl3d]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from vantage.bench.plugin import method_preset
from vantage.config import from_dict
from vantage.models import create_clip, video_logits
from vantage.train.action import ActionTrainConfig, build_action_model
from vantage.train.align import AlignTrainConfig, build_align_encoder
from vantage.train.classify import ClassifyTrainConfig, build_classifier
from vantage.train.ssl import SSLTrainConfig, build_backbone

HERE = Path(__file__).resolve().parent
Step = Callable[[torch.nn.Module], torch.Tensor]


def _info_nce(z: torch.Tensor, views: int) -> torch.Tensor:
    """A contrastive loss over ``views`` groups of one batch (the cost of the real losses is in the encoder)."""
    z = F.normalize(z.flatten(1), dim=-1).unflatten(0, (views, -1))
    logits = z[0] @ z[1:].flatten(0, 1).T / 0.1
    return F.cross_entropy(logits, torch.arange(len(logits)))


def _suites(preset: str) -> dict[str, Callable[[], tuple[str, torch.nn.Module, Step]]]:
    """suite -> a builder of (description, model, loss of one batch given the (maybe compiled) model)."""
    cfg = method_preset(preset)

    def pose_ssl() -> tuple[str, torch.nn.Module, Step]:
        s_cfg = from_dict(SSLTrainConfig, cfg["ssl"]["train"], "ssl.train")
        b, px = s_cfg.batch_size, s_cfg.image_size
        x = torch.randn(5 * b, 3, px, px)  # two augmented views + the (L, C, R) triplet
        return (
            f"{s_cfg.backbone} {s_cfg.backbone_kwargs} {px} px, 5 x {b} images",
            build_backbone(s_cfg),
            lambda m: _info_nce(m(x), 5),
        )

    def trl3d() -> tuple[str, torch.nn.Module, Step]:
        c_cfg = from_dict(ClassifyTrainConfig, cfg["trl3d"]["train"], "trl3d.train")
        x = torch.randn(c_cfg.batch_size, 3, c_cfg.image_size, c_cfg.image_size)
        y = torch.randint(0, 13, (c_cfg.batch_size,))
        return (
            f"DeiT {c_cfg.model_kwargs} {c_cfg.image_size} px, batch {c_cfg.batch_size}",
            build_classifier(c_cfg, 13),
            lambda m: F.cross_entropy(m(x), y),
        )

    def video_align() -> tuple[str, torch.nn.Module, Step]:
        a_cfg = from_dict(AlignTrainConfig, {**cfg["align"]["train"], "pretrained": False}, "align.train")
        views = 4  # wrist + the 3 seen cameras
        x = torch.randn(views * a_cfg.batch_size * a_cfg.clip_frames, 3, a_cfg.image_size, a_cfg.image_size)
        return (
            f"DeiT {a_cfg.model_kwargs} {a_cfg.image_size} px, {views} views x {a_cfg.batch_size} clips x "
            f"{a_cfg.clip_frames} frames",
            build_align_encoder(a_cfg),
            lambda m: _info_nce(m(x), views),
        )

    def action() -> tuple[str, torch.nn.Module, Step]:
        v_cfg = from_dict(ActionTrainConfig, {**cfg["action"]["train"], "pretrained": None}, "action.train")
        x = torch.randn(v_cfg.batch_size, v_cfg.clip_frames, 3, v_cfg.image_size, v_cfg.image_size)
        y = torch.randint(0, 9, (v_cfg.batch_size,))
        return (
            f"{v_cfg.arch} {v_cfg.timesformer or 'TIMESFORMER_CPU'} {v_cfg.image_size} px, batch "
            f"{v_cfg.batch_size} x {v_cfg.clip_frames} frames",
            build_action_model(v_cfg, 9),
            lambda m: F.cross_entropy(video_logits(m, x), y),
        )

    def ovt() -> tuple[str, torch.nn.Module, Step]:
        model_name, size = cfg["ovt"]["base"]["model"], cfg["ovt"]["base"]["image_size"]
        clip, _ = create_clip(model_name, image_size=size)
        clip.train()
        ctx = int(getattr(clip, "context_length", 77))
        x, t = torch.randn(144, 3, size, size), torch.randint(1, 400, (144, ctx))

        def clip_loss(m: torch.nn.Module) -> torch.Tensor:
            img, txt = m(x, t)[:2]
            return F.cross_entropy(img @ txt.T * 100, torch.arange(len(img)))

        return f"{model_name} {size} px, batch 144 image-text pairs", clip, clip_loss

    return {"pose_ssl": pose_ssl, "trl3d": trl3d, "video_align": video_align, "action": action, "ovt": ovt}


def _flops(model: torch.nn.Module, step: Step) -> int:
    with FlopCounterMode(display=False) as fc:
        step(model).backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def _matmul_rate(seconds: float = 2.0) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        n += 1
    return 2 * 1024**3 * n / (time.perf_counter() - t)


def _time(model: torch.nn.Module, opt: torch.optim.Optimizer, step: Step, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        step(model).backward()
        opt.step()
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--suites", nargs="*", default=None)
    a = ap.parse_args()
    torch.manual_seed(0)
    out = HERE / "results" / "train_speed.json"
    old = json.loads(out.read_text()) if a.suites and out.is_file() else {}
    rows = [r for r in old.get("rows", []) if r["suite"] not in a.suites] if old else []
    for name, build in _suites(a.preset).items():
        if a.suites and name not in a.suites:
            continue
        desc, model, step = build()
        rate = _matmul_rate()
        model.train()
        flops = _flops(model, step)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
        t = time.perf_counter()
        note = ""
        try:
            compiled = torch.compile(model)
            _time(compiled, opt, step, 2)
        except Exception as e:  # report, do not hide: the default would stay eager for this model
            compiled, note = None, f"compile failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
        warm = time.perf_counter() - t
        _time(model, opt, step, 2)
        eager, comp = [], []
        for _ in range(a.rounds):  # alternate, so drift hits both alike
            eager.append(_time(model, opt, step, a.steps))
            if compiled is not None:
                comp.append(_time(compiled, opt, step, a.steps))
        e = statistics.median(eager)
        c = statistics.median(comp) if comp else None
        row = {
            "suite": name,
            "model": desc,
            "gflop_per_step": round(flops / 1e9, 2),
            "eager_steps_s": round(e, 2),
            "eager_share": round(flops * e / rate, 3),
            "compiled_steps_s": round(c, 2) if c else None,
            "compiled_share": round(flops * c / rate, 3) if c else None,
            "speedup": round(c / e, 2) if c else None,
            "compile_warmup_s": round(warm, 1),
            "note": note,
            "matmul_gflop_s": round(rate / 1e9, 1),
            "date": time.strftime("%Y-%m-%d"),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
        _write(a, rows)


def _write(a: argparse.Namespace, rows: list[dict]) -> None:
    """The record so far (JSON and a markdown table), rewritten after each suite."""
    record = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "preset": a.preset,
        "rounds": a.rounds,
        "steps": a.steps,
        "rows": rows,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "train_speed.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        f"# Training-step speed, eager vs torch.compile ({a.preset} preset models)",
        "",
        f"Machine: {record['machine']}. Each share is of the fp32 1024^3 matmul rate measured just before that "
        f"suite (its own column). Median of {a.rounds} alternated rounds of {a.steps} steps.",
        "",
        "| suite | model / batch | GFLOP/step | matmul GFLOP/s | eager steps/s | eager share | compiled steps/s "
        "| compiled share | speed-up | compile warm-up s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['suite']} | {r['model']} | {r['gflop_per_step']} | {r.get('matmul_gflop_s', '-')} | "
            f"{r['eager_steps_s']} | "
            f"{r['eager_share']:.0%} | {r['compiled_steps_s'] or '-'} | "
            f"{format(r['compiled_share'], '.0%') if r['compiled_share'] else '-'} | "
            f"{r['speedup'] or r['note']} | {r['compile_warmup_s']} |"
        )
    (HERE / "results" / "train_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
