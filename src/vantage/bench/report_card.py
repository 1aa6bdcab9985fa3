"""Report cards for any encoders (`vantage eval encoder`): the semantic + pose benchmark per tap, per-viewpoint
semantic accuracy and its worst view, zero-shot and cross-azimuth retrieval for encoders with a text tower, and
every real set; one folder per encoder (``card.json``, ``card.html``, the sphere plot) and a leaderboard over every
card in the output folder (``leaderboard.json``, ``leaderboard.html``).

Encoders are named ``timm:NAME`` (``timm:NAME:pretrained`` for timm's weights, ``timm:NAME:FILE`` for a local
state dict), ``clip:NAME_OR_FOLDER`` (``clip:NAME@TAG`` for open_clip pretrained weights), ``hf:ID_OR_FOLDER``
(a Hugging Face vision model) or ``ckpt:FILE`` (a `vantage train ssl` checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vantage.config import ConfigError, to_dict
from vantage.io import atomic_write_json, atomic_write_text
from vantage.report import Figure, KeyValues, Section, Table, Text

__all__ = ["ENCODER_KINDS", "Encoder", "report_cards", "resolve_encoder"]

ENCODER_KINDS = ("timm", "clip", "hf", "ckpt")
CARD, BOARD = "card.json", "leaderboard"
HEADLINE = {
    "sem linear": "semantics/linear_top1",
    "sem kNN": "semantics/knn_top1",
    "worst-view kNN": "semantics/knn_worst_view_top1",
    "abs in-domain": "in_domain/absolute/top1",
    "abs unseen-pose acc@30": "unseen_poses/absolute/acc_30",
    "rel in-domain": "in_domain/relative/bin_top1",
}


@dataclass
class Encoder:
    """A resolved encoder: its feature extractor, the taps to score, and a text tower when it has one."""

    spec: str
    slug: str
    extractor: Any
    taps: list[str]
    trained_size: int | None = None
    clip: Any = None
    tokenizer: Any = None
    clip_size: int | None = None


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.replace("/", "_")).strip("._") or "encoder"


def resolve_encoder(spec: str, taps: list[str] | None = None) -> Encoder:
    """Load the encoder ``spec`` names (see the module docstring); ``taps`` for timm models and checkpoints."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ENCODER_KINDS or not rest:
        raise ConfigError(f"encoder {spec!r}: expected timm:NAME[:pretrained|:FILE], clip:NAME[@TAG], hf:ID or "
                          "ckpt:FILE")  # fmt: skip
    wanted = list(taps or ["pooled"])
    if kind == "timm":
        from vantage.models import FeatureExtractor, create_backbone

        name, _, weights = rest.partition(":")
        file = weights if weights not in ("", "pretrained") else None
        extractor = FeatureExtractor(create_backbone(name, weights == "pretrained", file)).eval()
        return Encoder(spec, _slug(spec), extractor, wanted)
    if kind == "ckpt":
        from vantage.train import load_ssl_extractor

        extractor, cfg = load_ssl_extractor(rest)
        return Encoder(spec, _slug(spec), extractor, wanted, trained_size=cfg.image_size)
    if kind == "hf":
        from vantage.models import hf_image_encoder

        return Encoder(spec, _slug(spec), hf_image_encoder(rest), ["pooled"])
    from vantage.models import clip_image_encoder, get_clip_tokenizer, load_clip

    name, _, tag = rest.partition("@")
    model, cfg = load_clip(name, tag or None)
    size = int(cfg["vision_cfg"]["image_size"])
    return Encoder(spec, _slug(spec), clip_image_encoder(model, size), ["pooled"], clip=model,
                   tokenizer=get_clip_tokenizer(name), clip_size=size)  # fmt: skip


def _lookup(table: dict[str, Any], path: str) -> Any:
    for key in path.split("/"):
        table = table.get(key, {}) if isinstance(table, dict) else {}
    return table if isinstance(table, int | float) else None


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def report_cards(specs: list[str], root: Path, out: Path, preset: str = "default", taps: list[str] | None = None,
                 coil20: Path | None = None, real: dict[str, Path] | None = None,
                 overrides: list[str] | None = None, progress: bool = False, device: str = "cpu"
                 ) -> dict[str, Any]:  # fmt: skip
    """Score every encoder in ``specs`` on the dataset at ``root`` (and the real sets) on ``device``, write one
    folder per encoder under ``out`` and refresh the leaderboard; returns the leaderboard."""
    from vantage.bench.runner import method_settings
    from vantage.config import from_dict, set_override
    from vantage.data import load_card
    from vantage.eval import PoseEvalConfig, eval_image_size, evaluate_pose_ssl, load_pose_eval_data
    from vantage.eval.zeroshot import load_zeroshot_data, zeroshot_benchmark

    fields = to_dict(method_settings("pose_ssl", preset)["eval"])
    for o in overrides or []:
        set_override(fields, o)
    base = from_dict(PoseEvalConfig, fields, "eval encoder")
    zcfg = method_settings("ovt", preset)["eval"]
    card_size = int(load_card(root).get("image_size") or 224)
    slugs = [_slug(s) for s in specs]
    if len(set(slugs)) != len(slugs):
        raise ConfigError(f"encoders {specs} name the same folder twice")
    memo: dict[Any, Any] = {}
    out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        start = time.perf_counter()
        enc = resolve_encoder(spec, taps)
        enc.extractor.check_taps(enc.taps)
        enc.extractor.to(device)  # a CLIP's tower is inside its extractor, so enc.clip moves with it
        size = eval_image_size(base.image_size, enc.trained_size, card_size)
        cfg = dataclasses.replace(base, image_size=size, taps=enc.taps)
        if ("pose", size) not in memo:
            memo[("pose", size)] = load_pose_eval_data(root, cfg, coil20, progress=progress, real=real)
        data = memo[("pose", size)]
        result = evaluate_pose_ssl(enc.extractor, data, cfg, enc.taps, progress=progress)
        card: dict[str, Any] = {"encoder": spec, "data": str(root), "image_size": size, "taps": enc.taps,
                                "real": sorted(data.real), "skipped": data.skipped, "table": result.table}  # fmt: skip
        if enc.clip is not None:
            if ("zs", enc.clip_size) not in memo:
                memo[("zs", enc.clip_size)] = load_zeroshot_data(root, enc.clip_size, zcfg, coil20, real=real)
            zs = zeroshot_benchmark(enc.clip, enc.tokenizer, memo[("zs", enc.clip_size)], zcfg)
            card["zeroshot"] = {"sets": zs["sets"], "groups": zs["groups"]}
        card["seconds"] = round(time.perf_counter() - start, 1)
        _write_card(out / enc.slug, card, result.arrays)
    return _write_leaderboard(out)


def _write_card(folder: Path, card: dict[str, Any], arrays: dict[str, Any]) -> None:
    from vantage.report import sphere_value_plot
    from vantage.report.html import render_page

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / CARD, card)
    tap = card["taps"][0]
    per_view = arrays.get(f"{tap}/semantics/per_view_knn_top1")
    if per_view is not None:
        sphere_value_plot(arrays["view_dirs"], {f"{card['encoder']} ({tap})": per_view}, folder / "sphere.png",
                          "kNN top-1 per viewpoint (Fib(50), held-out objects)")  # fmt: skip
    real = card.get("real", [])
    head = ["tap", *HEADLINE, *(name for _, name in _real_columns(real))]
    paths = [*HEADLINE.values(), *(path for path, _ in _real_columns(real))]
    rows = [[t, *(_fmt(_lookup(v, p)) for p in paths)] for t, v in card["table"].items()]
    note = ("Top-1 / accuracy in %, held-out objects; worst-view kNN = the lowest per-viewpoint kNN top-1 over the "
            "Fib(50) views.")  # fmt: skip
    blocks: list[Any] = [Text(note), Table(head, rows, title="semantics and pose per tap")]
    if "zeroshot" in card:
        zs = card["zeroshot"]
        blocks.append(Table(["set", "top-1"], [[k, _fmt(v.get("top1"))] for k, v in zs["sets"].items()],
                            title="zero-shot (and cross-azimuth retrieval on real sets)"))  # fmt: skip
    blocks.append(Figure("sphere.png" if per_view is not None else None, "kNN top-1 per viewpoint"))
    facts = {k: card[k] for k in ("encoder", "data", "image_size", "seconds")}
    section = Section(card["encoder"], [KeyValues(facts), *blocks])
    atomic_write_text(folder / "card.html", render_page(folder, f"vantage report card: {card['encoder']}", [section]))


def _real_columns(real: list[str]) -> list[tuple[str, str]]:
    """(result path, column name) of each real set's relative-pose scores: azimuth always, rotation where the
    set carried camera poses (an empty cell otherwise)."""
    return [(f"{r}/relative_{kind}/bin_top1", f"{r} rel {short}") for r in real
            for kind, short in (("azimuth", "az"), ("rotation", "rot"))]  # fmt: skip


def _write_leaderboard(out: Path) -> dict[str, Any]:
    from vantage.report.html import render_page

    cards = []
    for path in sorted(out.glob(f"*/{CARD}")):
        try:
            cards.append((path.parent.name, json.loads(path.read_text())))
        except json.JSONDecodeError:
            continue  # a card being written by another run
    real = sorted({r for _, c in cards for r in c.get("real", [])})
    rows, board = [], []
    for folder, c in cards:
        t = c["table"].get("pooled") or next(iter(c["table"].values()), {})
        entry = {"encoder": c["encoder"], "folder": folder, **{k: _lookup(t, p) for k, p in HEADLINE.items()},
                 **{name: _lookup(t, path) for path, name in _real_columns(real)},
                 "zero-shot clean": _lookup(c.get("zeroshot", {}), "groups/clean"),
                 "zero-shot viewpoint": _lookup(c.get("zeroshot", {}), "groups/viewpoint")}  # fmt: skip
        board.append(entry)
        rows.append([entry["encoder"], *(_fmt(v) for k, v in entry.items() if k not in ("encoder", "folder"))])
    head = ["encoder", *HEADLINE, *(name for _, name in _real_columns(real)), "zero-shot clean", "zero-shot viewpoint"]
    atomic_write_json(out / f"{BOARD}.json", {"columns": head, "rows": board})
    text = Text("The pooled tap of each encoder (its first tap when pooled was not scored); each row links to a "
                "folder with its report card (card.html).")  # fmt: skip
    page = render_page(out, "vantage encoder leaderboard", [Section("Leaderboard", [text, Table(head, rows)])])
    atomic_write_text(out / f"{BOARD}.html", page)
    return {"columns": head, "rows": board}
