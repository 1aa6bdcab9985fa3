"""Captions and answers of a VLM under viewpoint shift (`vantage eval vlm`), on the zero-shot benchmark's images of
held-out objects: clean (canonical views), the four 2D shifts, the Fib(100) sphere and the worst view.

Per image the model is asked for a caption ("Describe the image.") and scored by
(a) **category word**: the true category (or a listed synonym) appears in the caption as a word;
(b) **similarity**: the caption's embedding by a text encoder is within ``similarity_threshold`` (cosine) of
    "a photo of a <category>." (the project's own CLIP text tower stands in for the paper's MPNet; it runs
    offline), and ``sim_nearest``: the caption is nearer the true category's sentence than any other's;
(c) **POPE**: "Is there a <category> in the image?" for the true category and for a random other one
    (seeded): accuracy, F1 of "yes" and the share of "yes" answers.
The worst view of an object counts as correct only when its caption is correct in every candidate view.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vantage.eval.features import ImageBank
from vantage.eval.zeroshot import SHIFTS_2D, ZEROSHOT_GROUPS, ZeroShotData, shift_2d
from vantage.models.vlm import CAPTION_PROMPT

__all__ = ["SYNONYMS", "VLM_METRICS", "VLMEvalConfig", "category_hits", "evaluate_vlm", "generate", "pope_scores"]

# words that also name a category in a caption (the category's own name is always accepted, with a plural s)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "airplane": ("aeroplane", "plane", "aircraft", "jet"), "watercraft": ("boat", "ship"),
    "display": ("monitor", "screen"), "loudspeaker": ("speaker",), "telephone": ("phone",), "rifle": ("gun",),
    "sofa": ("couch",), "car": ("automobile",), "cabinet": ("cupboard",), "motorcycle": ("motorbike",),
}  # fmt: skip
VLM_METRICS = ("category", "sim_threshold", "sim_nearest", "pope_acc", "pope_f1", "pope_yes")


@dataclass
class VLMEvalConfig:
    """How captions are generated and scored."""

    max_new_tokens: int = 16
    batch_size: int = 128
    sample: bool = False  # greedy (default) or sampled decoding
    temperature: float = 1.0
    top_k: int = 0
    similarity_threshold: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1 or not self.temperature > 0 or self.top_k < 0:
            raise ValueError("max_new_tokens and batch_size must be >= 1, temperature > 0, top_k >= 0")
        if not -1 <= self.similarity_threshold <= 1:
            raise ValueError(f"similarity_threshold must be a cosine in [-1, 1], got {self.similarity_threshold}")


def _normalise(images: torch.Tensor) -> torch.Tensor:
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    mean, std = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


@torch.no_grad()
def generate(model: Any, tokenizer: Any, images: torch.Tensor, question: str | Sequence[str],
             cfg: VLMEvalConfig | None = None, use_cache: bool = True) -> list[str]:  # fmt: skip
    """The model's answers to ``question`` (one for all, or one per image) about ``images`` (N, 3, S, S) in [0, 1]:
    greedy or sampled (seeded) decoding with the KV cache, batched by question."""
    from vantage.models import module_device
    from vantage.models.vlm import build_prompt

    cfg = cfg or VLMEvalConfig()
    questions = [question] * len(images) if isinstance(question, str) else list(question)
    pixels = _normalise(images)
    dev = module_device(model)
    out: list[str | None] = [None] * len(images)
    by_q: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_q.setdefault(q, []).append(i)
    n_img = model.config.image_seq_length
    torch.manual_seed(cfg.seed)
    for q, idx in by_q.items():
        prompt = torch.tensor(build_prompt(tokenizer, n_img, q))
        for start in range(0, len(idx), cfg.batch_size):
            part = idx[start : start + cfg.batch_size]
            ids = prompt.expand(len(part), -1).to(dev)
            kwargs = dict(do_sample=True, temperature=cfg.temperature, top_k=cfg.top_k or None) if cfg.sample \
                else dict(do_sample=False)  # fmt: skip
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels[part].to(dev),
                                 max_new_tokens=cfg.max_new_tokens, use_cache=use_cache,
                                 pad_token_id=tokenizer.pad_token_id, **kwargs)  # fmt: skip
            texts = tokenizer.batch_decode(gen[:, ids.shape[1] :].cpu(), skip_special_tokens=True)
            for i, t in zip(part, texts, strict=True):
                out[i] = t.strip()
    return [t or "" for t in out]


def _names(category: str) -> set[str]:
    base = category.replace("_", " ").lower()
    return {base, *SYNONYMS.get(category, ())}


def category_hits(texts: Sequence[str], categories: Sequence[str], classes: Sequence[str]) -> tuple[np.ndarray, list]:
    """(per text: the true category or a synonym appears as a word (plural allowed), per text: the other classes'
    words it names, for marking wrong words)."""
    words = [set(re.findall(r"[a-z]+(?: [a-z]+)?", t.lower())) | set(re.findall(r"[a-z]+", t.lower())) for t in texts]

    def named(ws: set[str], cat: str) -> bool:
        return any(n in ws or f"{n}s" in ws for n in _names(cat))

    hits = np.array([named(ws, c) for ws, c in zip(words, categories, strict=True)])
    wrong = [[o for o in classes if o != c and named(ws, o)] for ws, c in zip(words, categories, strict=True)]
    return hits, wrong


@torch.no_grad()
def _similarity(texts: Sequence[str], categories: Sequence[str], classes: Sequence[str],
                encode: Callable[[list[str]], torch.Tensor],
                threshold: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(cosine >= threshold to the true class sentence, nearest class sentence is the true one) per text."""
    sentences = [f"a photo of a {c.replace('_', ' ')}." for c in classes]
    ref = F.normalize(encode(sentences), dim=-1)
    emb = F.normalize(encode([t or "." for t in texts]), dim=-1)
    sim = emb @ ref.T
    index = torch.tensor([list(classes).index(c) for c in categories])
    true = sim[torch.arange(len(texts)), index]
    return (true >= threshold).numpy(), (sim.argmax(1) == index).numpy()


def _yes(text: str) -> bool | None:
    t = text.lower().strip()
    return True if t.startswith("yes") else False if t.startswith("no") else None


def pope_scores(model: Any, tokenizer: Any, bank_images: torch.Tensor, categories: Sequence[str],
                classes: Sequence[str], cfg: VLMEvalConfig) -> dict[str, float]:  # fmt: skip
    """POPE (random negatives): one positive and one negative question per image; accuracy and F1 of "yes" (%),
    and the share of "yes" answers (an answer that is neither counts as wrong, and not as yes)."""
    from vantage.models.vlm import POPE_PROMPT, article

    g = torch.Generator().manual_seed(cfg.seed + 7)
    negs = []
    for c in categories:
        others = [o for o in classes if o != c]
        negs.append(others[int(torch.randint(len(others), (1,), generator=g))])
    ask = lambda c: POPE_PROMPT.format(article=article(c.replace("_", " ")), category=c.replace("_", " "))  # noqa: E731
    images = torch.cat([bank_images, bank_images])
    questions = [ask(c) for c in categories] + [ask(c) for c in negs]
    answers = [_yes(a) for a in generate(model, tokenizer, images, questions, cfg)]
    truth = [True] * len(categories) + [False] * len(categories)
    tp = sum(a is True and t for a, t in zip(answers, truth, strict=True))
    fp = sum(a is True and not t for a, t in zip(answers, truth, strict=True))
    fn = sum(a is not True and t for a, t in zip(answers, truth, strict=True))
    correct = sum(a is t for a, t in zip(answers, truth, strict=True))
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return {"pope_acc": 100 * correct / len(truth), "pope_f1": 100 * f1,
            "pope_yes": 100 * sum(a is True for a in answers) / len(answers)}  # fmt: skip


def _score(model: Any, tokenizer: Any, images: torch.Tensor, bank: ImageBank, cfg: VLMEvalConfig,
           encode: Callable | None, pope: bool = True) -> tuple[dict[str, float], list[str], np.ndarray]:  # fmt: skip
    cats = [bank.classes[int(i)] for i in bank.category]
    captions = generate(model, tokenizer, images, CAPTION_PROMPT, cfg)
    hits, _ = category_hits(captions, cats, bank.classes)
    scores = {"category": 100 * float(hits.mean()), "n": len(captions)}
    if encode is not None:
        thr, near = _similarity(captions, cats, bank.classes, encode, cfg.similarity_threshold)
        scores.update(sim_threshold=100 * float(thr.mean()), sim_nearest=100 * float(near.mean()))
    if pope:
        scores.update(pope_scores(model, tokenizer, images, cats, bank.classes, cfg))
    return scores, captions, hits


def evaluate_vlm(model: Any, tokenizer: Any, data: ZeroShotData, cfg: VLMEvalConfig | None = None,
                 encode: Callable[[list[str]], torch.Tensor] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Every set's scores (``sets``: metric -> %), group averages (``groups``: clean, 2d_shift, viewpoint, per
    metric), and example captions (``examples``: the sphere's first object, every view) for the report."""
    cfg = cfg or VLMEvalConfig()
    say = progress or (lambda _m: None)
    model.eval()
    sets: dict[str, dict[str, float]] = {}
    say("clean")
    sets["clean"], _, _ = _score(model, tokenizer, data.clean.images, data.clean, cfg, encode)
    for kind in SHIFTS_2D:
        say(kind)
        shifted = shift_2d(data.clean.images, kind, data.clean_mask, cfg.seed)
        sets[kind], _, _ = _score(model, tokenizer, shifted, data.clean, cfg, encode)
    say("sphere")
    sets["sphere"], sphere_caps, _ = _score(model, tokenizer, data.sphere.images, data.sphere, cfg, encode)
    say("worst view")
    cand = data.candidates
    _, _, hits = _score(model, tokenizer, cand.images, cand, cfg, None, pope=False)
    objs = cand.object.numpy()
    worst = [bool(hits[objs == o].all()) for o in np.unique(objs)]
    sets["worst_view"] = {"category": 100 * float(np.mean(worst)), "n": len(worst)}
    groups = {}
    for g, names in {k: v for k, v in ZEROSHOT_GROUPS.items() if k != "real"}.items():
        groups[g] = {m: float(np.mean([sets[s][m] for s in names if m in sets[s]]))
                     for m in VLM_METRICS if any(m in sets[s] for s in names)}  # fmt: skip
    first = int(data.sphere.object[0])
    pick = (data.sphere.object == first).nonzero().squeeze(1)[:12].tolist()
    cats = [data.sphere.classes[int(data.sphere.category[i])] for i in pick]
    hit, wrong = category_hits([sphere_caps[i] for i in pick], cats, data.sphere.classes)
    examples = [{"view_id": int(data.sphere.view_id[i]), "caption": sphere_caps[i], "category": c, "hit": bool(h),
                 "wrong_words": w} for i, c, h, w in zip(pick, cats, hit, wrong, strict=True)]  # fmt: skip
    return {"sets": sets, "groups": groups, "examples": examples, "classes": data.classes}
