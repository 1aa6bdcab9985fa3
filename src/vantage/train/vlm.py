"""LLaVA-style training of a small VLM on a (frozen) CLIP tower (`vantage train vlm`), in LLaVA's two stages:

1. the projector alone, on image-caption pairs of the canonical (near-front) views of the training objects;
2. the projector and the language model, on captions plus templated questions: "What is this object?",
   POPE-style "Is there a <category> in the image?" (yes, and no for a random other category).

The tokenizer is trained first on every text the run will see (saved with the run, so a resume reuses it); each
stage is a resumable Lightning run (``stage1/``, ``stage2/``); the finished model and tokenizer are written to
``<out>/model`` (an HF ``save_pretrained`` folder, published whole). :func:`refit_projector` runs stage 1 again
on a trained VLM with another tower, the language model untouched, as LLaVA's maintainers advise when the tower
changes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vantage.models.vlm import CAPTION_PROMPT, POPE_PROMPT, WHAT_PROMPT, article, build_prompt
from vantage.train.common import (
    ResumableRNG,
    RunConfig,
    check_finite,
    fit_resumable,
    load_vantage_checkpoint,
    warmup_cosine_scheduler,
)

__all__ = ["VLMTrainConfig", "load_tower", "refit_projector", "train_vlm", "vlm_corpus"]

@dataclass
class VLMTrainConfig(RunConfig):
    """A VLM run: tower, language model, the two stages; defaults are the CPU scale."""

    tower: str = "vantage-clip-tiny"  # an open_clip name or a folder written by `train clip` / `train ovt`
    image_size: int = 32
    vision_feature_layer: int = -2  # LLaVA's: the second-to-last block's patch tokens
    lm: dict[str, Any] = field(default_factory=dict)  # LlamaConfig fields over models.vlm.LM_CPU
    vocab_size: int = 512
    train_view_set: str = "canonical"
    stage1_epochs: int = 4
    stage2_epochs: int = 8
    stage1_lr: float = 1e-3
    stage2_lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_epochs: int = 1
    batch_size: int = 32
    epochs: int = 1  # set per stage from stage1_epochs / stage2_epochs

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stage1_epochs < 0 or self.stage2_epochs < 0 or self.stage1_epochs + self.stage2_epochs < 1:
            raise ValueError("stage1_epochs and stage2_epochs must be >= 0 and not both 0")
        if not 64 <= self.vocab_size <= 65536:
            raise ValueError(f"vocab_size must be in 64..65536, got {self.vocab_size}")
        if not self.stage1_lr > 0 or not self.stage2_lr > 0:
            raise ValueError("stage1_lr and stage2_lr must be > 0")
        if self.lm:
            from transformers import LlamaConfig

            known = set(LlamaConfig().to_dict())
            bad = sorted(set(self.lm) - known)
            if bad:
                raise ValueError(f"lm: unknown LlamaConfig field(s) {bad} (e.g. hidden_size, num_hidden_layers)")


def _pairs(categories: list[str], captions: list[str], classes: list[str], stage: int, seed: int) -> list[tuple]:
    """(image index, question, answer) of every training item of ``stage`` (POPE negatives seeded)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i, (cat, cap) in enumerate(zip(categories, captions, strict=True)):
        out.append((i, CAPTION_PROMPT, cap))
        if stage == 2:
            name = cat.replace("_", " ")
            out.append((i, WHAT_PROMPT, f"{article(name)} {name}."))
            out.append((i, POPE_PROMPT.format(article=article(name), category=name), "yes"))
            others = [c for c in classes if c != cat]
            neg = others[int(torch.randint(len(others), (1,), generator=g))].replace("_", " ")
            out.append((i, POPE_PROMPT.format(article=article(neg), category=neg), "no"))
    return out


def vlm_corpus(classes: list[str], captions: list[str]) -> list[str]:
    """Every text a run trains on or asks (its tokenizer's training corpus), in a fixed order."""
    texts = [CAPTION_PROMPT, WHAT_PROMPT, "yes", "no", "\nQ: \nA:", *sorted(set(captions))]
    for c in classes:
        name = c.replace("_", " ")
        texts += [f"{article(name)} {name}.", POPE_PROMPT.format(article=article(name), category=name)]
    return texts


class _Items(Dataset):
    def __init__(self, images: torch.Tensor, items: list[tuple], tokenizer: Any, image_tokens: int) -> None:
        self.images, self.items, self.tok, self.n = images, items, tokenizer, image_tokens

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i, question, answer = self.items[k]
        prompt = build_prompt(self.tok, self.n, question)
        target = [*self.tok(f" {answer}").input_ids, self.tok.eos_token_id]
        return {"pixel_values": self.images[i], "input_ids": prompt + target,
                "labels": [-100] * len(prompt) + target}  # fmt: skip


def _collate(pad: int) -> Any:
    def collate(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for j, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[j, :n], labels[j, :n], mask[j, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"pixel_values": torch.stack([b["pixel_values"] for b in batch]), "input_ids": ids,
                "attention_mask": mask, "labels": labels}  # fmt: skip

    return collate


class VLMModule(ResumableRNG, L.LightningModule):
    """The VLM in one training stage: stage 1 trains the projector, stage 2 the projector and the LM."""

    def __init__(self, cfg: VLMTrainConfig, model: torch.nn.Module, stage: int, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": vars(cfg), "stage": stage, "lr": lr, "llava_config": model.config.to_dict()})
        self.cfg, self.model, self.stage, self.lr = cfg, model, stage, lr
        model.train()  # the frozen CLIP tower has no dropout or batch statistics: train mode changes nothing there
        for name, p in model.named_parameters():
            p.requires_grad_("multi_modal_projector" in name or (stage == 2 and "language_model" in name)
                             or (stage == 2 and name.startswith("lm_head")))  # fmt: skip

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(**batch).loss
        check_finite(self.global_step, loss, {"next-token cross-entropy": loss})
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.cfg.weight_decay)
        sched = warmup_cosine_scheduler(opt, self.trainer, self.cfg.epochs, self.cfg.warmup_epochs)
        return {"optimizer": opt, "lr_scheduler": sched}


def load_tower(name: str, image_size: int | None = None) -> tuple[torch.nn.Module, Any]:
    """(HF CLIPVisionModel converted from the open_clip / vantage CLIP ``name``, the OVTModel it came from)."""
    from vantage.models.clip import load_clip
    from vantage.models.vlm import convert_open_clip_tower

    clip, _ = load_clip(name, image_size=image_size)
    return convert_open_clip_tower(clip), clip


def _train_rows(data: Path, cfg: VLMTrainConfig) -> tuple[torch.Tensor, list[str], list[str], list[str]]:
    """(CLIP-normalised images, categories, captions, classes) of the training objects' ``train_view_set`` views."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from PIL import Image

    from vantage.data import filter_records, inside, load_card, load_records
    from vantage.data.transforms import to_tensor

    classes = list(load_card(data).get("categories", {}).get("in", []))
    rows = filter_records(load_records(data), split="train", domain="in", view_set=cfg.train_view_set)
    if not rows:
        raise ValueError(f"{data} has no train in-domain rows of view set {cfg.train_view_set!r}")
    load = to_tensor(cfg.image_size)  # the evaluation banks' resize (float, antialiased)
    images = []
    for r in rows:
        with Image.open(inside(data, r.file_name)) as im:
            images.append(load(im.convert("RGB")))
    mean, std = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    captions = [r.caption or f"a photo of {article(r.category)} {r.category.replace('_', ' ')}." for r in rows]
    return (torch.stack(images) - mean) / std, [r.category for r in rows], captions, classes


def _stage(cfg: VLMTrainConfig, model: torch.nn.Module, tokenizer: Any, images: torch.Tensor, items: list[tuple],
           stage: int, out: Path, progress: bool, stop_after: int | None,
           overwrite: bool) -> torch.nn.Module:  # fmt: skip
    epochs, lr = (cfg.stage1_epochs, cfg.stage1_lr) if stage == 1 else (cfg.stage2_epochs, cfg.stage2_lr)
    if epochs == 0:
        return model
    scfg = dataclasses.replace(cfg, epochs=epochs)
    module = VLMModule(scfg, model, stage, lr)
    n_img = model.config.image_seq_length
    loader = DataLoader(_Items(images, items, tokenizer, n_img), batch_size=cfg.batch_size, shuffle=True,
                        collate_fn=_collate(tokenizer.pad_token_id), num_workers=cfg.num_workers,
                        generator=torch.Generator().manual_seed(cfg.seed + stage))  # fmt: skip
    ckpt = fit_resumable(module, loader, scfg, out, progress, stop_after, overwrite=overwrite)
    _, state = load_vantage_checkpoint(ckpt, ("cfg", "stage"), "vantage train vlm")
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    return model


def _publish(model: torch.nn.Module, tokenizer: Any, dest: Path) -> Path:
    """Write the VLM to ``dest`` whole (temp folder, then rename), and the run's training wall time (its stages
    and, in a bench run, the tower trained beside them) to ``<run>/train_time.json``."""
    from vantage.io import atomic_write_json, temp_folder
    from vantage.models.vlm import save_vlm
    from vantage.train.common import TRAIN_TIME_FILE, train_seconds

    run = dest.parent
    seconds = sum(train_seconds(run / sub) for sub in ("tower", "stage1", "stage2"))
    atomic_write_json(run / TRAIN_TIME_FILE, {"seconds": round(seconds, 1)})

    tmp = temp_folder(dest, "saving", "a VLM save")
    save_vlm(model, tokenizer, tmp)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def train_vlm(cfg: VLMTrainConfig, data: str | Path, out: str | Path, progress: bool = True,
              stop_after: int | None = None, overwrite: bool = False) -> Path:  # fmt: skip
    """Both stages on the dataset ``data`` with ``cfg.tower`` frozen; returns ``<out>/model``."""
    from transformers import AutoTokenizer

    from vantage.models.vlm import build_llava, train_bpe_tokenizer

    out, data = Path(out), Path(data)
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for sub in ("tokenizer", "stage1", "stage2", "model"):
            shutil.rmtree(out / sub, ignore_errors=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    images, cats, captions, classes = _train_rows(data, cfg)
    if (out / "tokenizer" / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
    else:
        tokenizer = train_bpe_tokenizer(vlm_corpus(classes, captions), cfg.vocab_size)
        tokenizer.save_pretrained(out / "tokenizer")
    tower, _ = load_tower(cfg.tower, cfg.image_size)
    model = build_llava(tower, tokenizer, cfg.lm, cfg.vision_feature_layer, seed=cfg.seed)
    for stage in (1, 2):
        items = _pairs(cats, captions, classes, stage, cfg.seed)
        model = _stage(cfg, model, tokenizer, images, items, stage, out / f"stage{stage}", progress, stop_after, False)
    return _publish(model.eval(), tokenizer, out / "model")


def refit_projector(cfg: VLMTrainConfig, vlm: str | Path, tower: str, data: str | Path, out: str | Path,
                    progress: bool = True) -> Path:  # fmt: skip
    """The trained VLM at ``vlm`` with ``tower`` swapped in and its projector re-fitted by stage 1 (the language
    model unchanged); returns ``<out>/model``."""
    from vantage.models.vlm import load_vlm, swap_tower

    out = Path(out)
    model, tokenizer = load_vlm(vlm)
    new, _ = load_tower(tower, cfg.image_size)
    model = swap_tower(model, new)
    images, cats, captions, classes = _train_rows(Path(data), cfg)
    model = _stage(cfg, model, tokenizer, images, _pairs(cats, captions, classes, 1, cfg.seed), 1, out / "stage1",
                   progress, None, False)  # fmt: skip
    return _publish(model.eval(), tokenizer, out / "model")
