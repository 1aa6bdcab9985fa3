"""VLM plug-in: OVT-tuned CLIP towers inside a LLaVA-style model. Per seed: a base CLIP (near-front views, as the
OVT suite's), a small LLaVA trained on it in two stages, then OVT from the same base; the OVT tower swapped in
without retraining the language model (as the paper does) and with the projector re-fitted (stage 1 only);
captions and answers scored on held-out objects under clean, 2D and viewpoint shift."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vantage.bench.context import BenchContext
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, Trained, Variant
from vantage.bench.plugin import EvalCommand, MethodPlugin, Option, Settings, TrainCommand, register_method
from vantage.config import config_hash, to_dict
from vantage.eval.vlm import VLM_METRICS, VLMEvalConfig
from vantage.eval.zeroshot import ZeroShotConfig
from vantage.io import sha256_file
from vantage.report import KeyValues, Section, Table, Text, fmt_mean_std
from vantage.train.clip import ClipTrainConfig, OVTTrainConfig, train_clip, train_ovt
from vantage.train.vlm import VLMTrainConfig, refit_projector, train_vlm

__all__ = ["VLMBenchConfig", "VLMMethod"]

SWAPS = ("faithful", "faithful_refit", "improved", "improved_refit")
_SETS = ("clean", "greyscale", "blur", "sketch", "background", "sphere", "worst_view")


@dataclass
class VLMBenchConfig:
    """Which towers the suite swaps in (the preset's ``vlm.bench`` section)."""

    variants: list[str] = field(default_factory=lambda: ["faithful", "faithful_refit"])
    seeds: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in SWAPS]
        if bad:
            raise ValueError(f"variants {bad} unknown; choose from {list(SWAPS)}")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")


def _ident(model_dir: Path) -> str:
    return config_hash({f.name: sha256_file(f) for f in sorted(model_dir.glob("*.safetensors"))})


def _encoder(tower: str) -> Any:
    """The CLIP text tower of ``tower`` as ``texts -> embeddings`` (the stand-in for the paper's MPNet)."""
    import torch

    from vantage.models.clip import get_clip_tokenizer, load_clip

    clip, _ = load_clip(tower)
    tok = get_clip_tokenizer(tower)

    @torch.no_grad()
    def encode(texts: list[str]) -> torch.Tensor:
        return torch.cat([clip.encode_text(tok(texts[i : i + 256])) for i in range(0, len(texts), 256)])

    return encode


def _swap_and_save(vlm: Path, tower: Path, out: Path) -> Path:
    from vantage.models.vlm import load_vlm, swap_tower
    from vantage.train.vlm import _publish, load_tower

    model, tok = load_vlm(vlm)
    new, _ = load_tower(str(tower))
    return _publish(swap_tower(model, new).eval(), tok, out / "model")


@register_method
class VLMMethod(MethodPlugin):
    """OVT towers in a LLaVA-style VLM: captions and answers under viewpoint shift."""

    name = "vlm"
    title = "OVT-CLIP as a VLM's vision tower: captions and answers under viewpoint shift"
    section = "vlm"
    parts: ClassVar[dict[str, type]] = {
        "base": ClipTrainConfig, "ovt": OVTTrainConfig, "train": VLMTrainConfig, "eval": VLMEvalConfig,
        "data_eval": ZeroShotConfig, "bench": VLMBenchConfig,
    }  # fmt: skip
    claims = (
        Claim("OVT faithful tower, no retraining: caption category accuracy under viewpoint shift",
              ("faithful", "groups", "viewpoint", "category"), "higher with the OVT tower (LLaVA-13B, OpenFlamingo-3B)",
              competence=("table", "base", "groups", "clean", "category"), chance="chance"),
        Claim("OVT faithful tower, projector re-fitted: caption category accuracy under viewpoint shift",
              ("faithful_refit", "groups", "viewpoint", "category"), "(not in the paper)",
              competence=("table", "base", "groups", "clean", "category"), chance="chance"),
    )  # fmt: skip
    train_commands = (
        TrainCommand("vlm", train_vlm, run_name="seed{seed}", prints="model",
                     help="A LLaVA-style VLM (HF LlavaForConditionalGeneration: CLIP tower frozen, LLaVA-1.5 "
                     "projector, a small Llama trained from scratch) in LLaVA's two stages on canonical-view "
                     "captions and questions; exports <out>/model (save_pretrained, with its BPE tokenizer)."),
    )  # fmt: skip
    eval_commands = (
        EvalCommand("vlm", help="Captions and answers of a VLM on held-out objects: clean, 2D shifts, the Fib(100) "
                    "sphere, worst view; category word, text-similarity and POPE scores.", extras=(
            Option("model", str, ..., "A VLM folder (`vantage train vlm` <out>/model, any save_pretrained LLaVA) "
                   "or an HF id."),
            Option("tower", str | None, None, "Swap this CLIP tower in first (a `train clip` / `train ovt` folder)."),
            Option("refit", bool, False, "With --tower: re-fit the projector (stage 1) before scoring."),
            Option("text_encoder", str | None, None, "CLIP whose text tower scores similarity (default: none).",
                   ("--text-encoder",)),
        )),
    )  # fmt: skip
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {"base": {"model": "vantage-clip-micro", "image_size": 32, "epochs": 2, "batch_size": 32,
                           "warmup_epochs": 0},
                  "ovt": {"epochs": 1, "batch_size": 32, "clean_batch_size": 16, "viformer": {"ffn": 128}},
                  "train": {"stage1_epochs": 5, "stage2_epochs": 40, "stage2_lr": 0.001,
                            "lm": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
                                   "num_key_value_heads": 2}},
                  "data_eval": {"templates": "simple"}},
        "default": {"base": {"model": "vantage-clip-tiny", "image_size": 32, "epochs": 12, "batch_size": 128,
                             "lr": 0.001},
                    "ovt": {"epochs": 2, "batch_size": 96, "clean_batch_size": 48, "lr": 0.0005, "augment": "crop"},
                    "train": {"stage1_epochs": 4, "stage2_epochs": 12},
                    "data_eval": {"templates": "simple"}},
        "repro": {"bench": {"seeds": [0, 1, 2], "variants": list(SWAPS)}},
        "paper": {"base": {"model": "ViT-L-14-336", "pretrained": "openai", "image_size": 336, "epochs": 0},
                  "ovt": {"epochs": 30, "batch_size": 512, "clean_batch_size": 256, "lr": 0.00005,
                          "accelerator": "gpu"},
                  "train": {"image_size": 336, "lm": {"hidden_size": 4096, "intermediate_size": 11008,
                                                      "num_hidden_layers": 32, "num_attention_heads": 32,
                                                      "num_key_value_heads": 32, "max_position_embeddings": 4096},
                            "vocab_size": 32000, "accelerator": "gpu", "precision": "bf16-mixed"},
                  "bench": {"seeds": [0, 1, 2], "variants": list(SWAPS)}},
    }  # fmt: skip

    def variants(self, s: Settings) -> list[Variant]:
        return [Variant("base", "base"), *(Variant(v, v, baseline="base") for v in s["bench"].variants)]

    def train(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, run_dir: Path, root: Path,
              done: dict[str, Trained]) -> Trained:  # fmt: skip
        if v.name == "base":
            clip_cfg = dataclasses.replace(s["base"], seed=seed)
            tower = train_clip(clip_cfg, root, run_dir / "tower", progress=ctx.progress, overwrite=ctx.overwrite)
            cfg = dataclasses.replace(s["train"], seed=seed, tower=str(tower))
            model = train_vlm(cfg, root, run_dir, progress=ctx.progress, overwrite=ctx.overwrite)
            return Trained(model, _ident(model), cfg)
        base = done["base"]
        mode = v.name.removesuffix("_refit")
        ovt_run = run_dir.parent / f"tower-{mode}-seed{seed}"
        ovt_cfg = dataclasses.replace(s["ovt"], variant=mode, seed=seed, base=str(Path(base.config.tower)))
        tower = train_ovt(ovt_cfg, root, ovt_run, progress=ctx.progress, overwrite=ctx.overwrite)
        if v.name.endswith("_refit"):
            model = refit_projector(base.config, base.path, str(tower), root, run_dir, progress=ctx.progress)
        else:
            model = _swap_and_save(Path(base.path), tower, run_dir)
        return Trained(model, _ident(model), dataclasses.replace(base.config, tower=str(tower)))

    def eval_key(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained) -> dict[str, Any]:
        return {"eval": to_dict(s["eval"]), "data_eval": to_dict(s["data_eval"])}

    def evaluate(self, ctx: BenchContext, s: Settings, v: Variant, seed: int, trained: Trained,
                 root: Path) -> Evaluation:  # fmt: skip
        from vantage.eval.vlm import evaluate_vlm
        from vantage.eval.zeroshot import load_zeroshot_data
        from vantage.models.vlm import load_vlm

        size = trained.config.image_size
        memo_key = ("vlm_data", str(root), size, to_dict(s["data_eval"]).__repr__())
        if memo_key not in ctx.memo:
            ctx.memo[memo_key] = load_zeroshot_data(root, size, s["data_eval"])
        model, tok = load_vlm(trained.path)
        base_tower = ctx.out / self.section / f"base-seed{seed}" / "tower" / "model"
        result = evaluate_vlm(model.to(ctx.device), tok, ctx.memo[memo_key], s["eval"], _encoder(str(base_tower)))
        return Evaluation({"sets": result["sets"], "groups": result["groups"]}, extra={"examples": result["examples"]})

    def run_eval(self, spec: EvalCommand, cfg: VLMEvalConfig, values: dict[str, Any]) -> None:
        from vantage.bench.output import print_and_save
        from vantage.data import resolve_data_root
        from vantage.eval.vlm import evaluate_vlm
        from vantage.eval.zeroshot import load_zeroshot_data
        from vantage.models import resolve_device
        from vantage.models.vlm import load_vlm

        if values["refit"] and not values["tower"]:
            raise ValueError("--refit needs --tower (the tower whose projector is re-fitted)")
        root = resolve_data_root(values["data"], values["preset"], need_card=False)
        model_path = values["model"]
        if values["tower"]:
            out = Path(values["out"]).with_suffix("") if values["out"] else Path("runs/vlm/eval")  # beside the record
            if values["refit"]:
                from vantage.models.vlm import load_vlm as _load

                size = _load(model_path)[0].config.vision_config.image_size
                tcfg = VLMTrainConfig(image_size=size, tower=values["tower"])
                model_path = str(refit_projector(tcfg, model_path, values["tower"], root, out / "refit"))
            else:
                model_path = str(_swap_and_save(Path(model_path), Path(values["tower"]), out / "swapped"))
        model, tok = load_vlm(model_path)
        model.to(resolve_device(values["device"]))
        data = load_zeroshot_data(root, model.config.vision_config.image_size, ZeroShotConfig(templates="simple"))
        encode = _encoder(values["text_encoder"]) if values["text_encoder"] else None
        result = evaluate_vlm(model, tok, data, cfg, encode)
        record = {"model": values["model"], "tower": values["tower"], "refit": values["refit"],
                  "config": to_dict(cfg), **result}  # fmt: skip
        print_and_save({"sets": result["sets"], "groups": result["groups"]}, values["out"], record, digits=2)

    def train_data(self, spec: TrainCommand, data: Path | None, preset: str) -> Path:
        from vantage.data import resolve_data_root

        return resolve_data_root(data, preset, need_card=False)

    def delta_view(self, table: dict[str, Any]) -> dict[str, Any]:
        return {"sets": table["sets"], "groups": table["groups"]}

    def finish(self, ctx: BenchContext, s: Settings, grid: Any, root: Path) -> dict[str, Any]:
        from vantage.data import load_card

        examples = {}
        for v in grid.variants:
            ev = grid.run_dirs.get((v.key, s["bench"].seeds[0]))
            if ev is not None and (ev / "eval.json").is_file():
                examples[v.name] = json.loads((ev / "eval.json").read_text()).get("extra", {}).get("examples", [])
        return {"chance": 100.0 / max(1, len(load_card(root).get("categories", {}).get("in", []))),
                "train_config": s.raw.get("train", {}), "bench_config": to_dict(s["bench"]),
                "examples": examples, **grid.record()}  # fmt: skip

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        seeds = res.get("bench_config", {}).get("seeds", [])
        table = res.get("table", {})
        head = ["model", *(f"{g} {m}" for g in ("clean", "2d_shift", "viewpoint") for m in VLM_METRICS
                           if any(m in t.get("groups", {}).get(g, {}) for t in table.values()))]  # fmt: skip

        def cell(t: dict, col: str) -> str:
            g, m = col.split(" ", 1)
            return fmt_mean_std(t.get("groups", {}).get(g, {}).get(m))

        def delta(d: dict, col: str) -> str:
            g, m = col.split(" ", 1)
            leaf = d.get("groups", {}).get(g, {}).get(m)
            return f"{leaf['mean']:+.1f}" if isinstance(leaf, dict) and "mean" in leaf else "-"

        rows = []
        for name, t in table.items():
            rows.append([name, *(cell(t, c) for c in head[1:])])
            if name in res.get("deltas", {}):
                rows.append(["  Δ vs base", *(delta(res["deltas"][name], c) for c in head[1:])])
        blocks = [Text(f"Scores (%) on held-out objects, mean ± std over seeds {seeds}. category = the caption names "
                       "the true category; sim = text similarity to the label sentence (the project's CLIP text tower "
                       "stands in for MPNet); POPE = yes/no accuracy, F1 and yes-ratio. base = the VLM on the base "
                       "CLIP; faithful = the OVT tower swapped in, LM and projector unchanged; _refit = projector "
                       "re-fitted on the new tower."), Table(head, rows)]  # fmt: skip
        for name, ex in res.get("examples", {}).items():
            ex_rows = [[str(e["view_id"]), e["caption"] + ("" if e["hit"] else "  ✗"),
                        ", ".join(e["wrong_words"]) or "-"] for e in ex]  # fmt: skip
            title = f"example captions, {name} tower: one held-out object from several views"
            head_ex = ["view", "caption (✗: category missing)", "wrong category words"]
            blocks.append(Table(head_ex, ex_rows, title=title))
        blocks.append(KeyValues(res.get("train_config", {}), "configuration", collapsed=True))
        return Section(f"{self.title} (seeds {seeds})", blocks)
