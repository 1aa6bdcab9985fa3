"""The multi-view video alignment benchmark: embed every frame of every camera of the held-out trajectories and
score every view pair by nearest-neighbour alignment (eval/alignment.py), grouped as the paper reports them:
first-person vs third-person (``fpv_tpv``) and third-person vs third-person (``tpv_tpv``), each for *seen*
cameras (those trained on) and *unseen* ones. With a 3DTRL encoder, a camera-head diagnostic says whether the
layer's estimated cameras follow the true ones (the reference's open question: its camera head collapses)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vantage.data.schema import load_records
from vantage.eval.alignment import alignment_metrics

__all__ = ["AlignEvalConfig", "camera_head_diagnostic", "evaluate_alignment", "pair_group"]

GROUPS = ("fpv_tpv/seen", "fpv_tpv/unseen", "tpv_tpv/seen", "tpv_tpv/unseen")
METRICS = ("align_err", "cycle_err", "tau", "tau_b")


@dataclass
class AlignEvalConfig:
    """What the benchmark scores."""

    split: str = "test"
    batch_size: int = 128
    diagnostic_pairs: int = 4000


def pair_group(group_a: str, group_b: str) -> str:
    """The reporting group of a camera pair from the cameras' groups (fpv, seen, unseen)."""
    kinds = {group_a, group_b}
    fam = "fpv_tpv" if "fpv" in kinds else "tpv_tpv"
    return f"{fam}/{'unseen' if 'unseen' in kinds else 'seen'}"


def _rotation_angles(r: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    rel = r[pairs[:, 0]].transpose(1, 2) @ r[pairs[:, 1]]
    return torch.rad2deg(torch.acos(((rel.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)))


def camera_head_diagnostic(pred_rot: torch.Tensor, pred_t: torch.Tensor, true_c2w: torch.Tensor,
                           pairs: int = 4000, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """How the estimated cameras relate to the true ones, independent of the frames they are expressed in:
    Pearson correlation of pairwise relative-rotation angles (predicted vs true) and of pairwise distances of
    translations vs true camera centres, and the spread of the predictions (near 0: collapsed)."""
    n = len(pred_rot)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (pairs, 2), generator=g)
    idx = idx[idx[:, 0] != idx[:, 1]]
    pa, ta = _rotation_angles(pred_rot.double(), idx), _rotation_angles(true_c2w[:, :3, :3].double(), idx)
    pd = (pred_t[idx[:, 0]] - pred_t[idx[:, 1]]).double().norm(dim=1)
    td = (true_c2w[idx[:, 0], :3, 3] - true_c2w[idx[:, 1], :3, 3]).double().norm(dim=1)

    def corr(x: torch.Tensor, y: torch.Tensor) -> float:
        if x.std() < 1e-12 or y.std() < 1e-12:
            return float("nan")
        return float(torch.corrcoef(torch.stack([x, y]))[0, 1])

    svd = torch.linalg.svd(pred_rot.double().mean(0))
    centre = (svd.U @ svd.Vh).expand(n, 3, 3)  # chordal mean rotation
    spread = _rotation_angles(
        torch.cat([pred_rot.double(), centre]), torch.stack([torch.arange(n), torch.arange(n) + n], 1)
    ).mean()
    return {
        "rotation_corr": corr(pa, ta),
        "translation_corr": corr(pd, td),
        "rotation_spread_deg": float(spread),
        "translation_spread": float((pred_t - pred_t.mean(0)).double().norm(dim=1).mean()),
        "true_rotation_spread_deg": float(ta.mean()),
    }


@torch.no_grad()
def evaluate_alignment(embed: Callable[[torch.Tensor], torch.Tensor], root: str | Path, image_size: int,
                       cfg: AlignEvalConfig | None = None, trl: Any = None) -> dict[str, Any]:  # fmt: skip
    """Alignment metrics (mean over trajectories and pairs) per group and per task, and, when ``trl`` (a 3DTRL
    layer inside ``embed``'s model) is given, the camera-head diagnostic over every frame scored."""
    from PIL import Image

    from vantage.data.clips import index_sequences
    from vantage.data.schema import inside
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor

    def read(rel: str) -> Any:
        with Image.open(inside(root, rel)) as im:
            return tf(im.convert("RGB"))

    cfg = cfg or AlignEvalConfig()
    root = Path(root)
    rows = [r for r in load_records(root) if r.split == cfg.split and r.sequence_id is not None]
    seqs = index_sequences(rows, where=str(root))
    if not seqs:
        raise ValueError(f"{root} has no {cfg.split} sequences to align")
    tf = to_tensor(image_size, IMAGENET_MEAN, IMAGENET_STD)
    per_group: dict[str, dict[str, list[float]]] = {g: {m: [] for m in METRICS} for g in GROUPS}
    per_task: dict[str, dict[str, list[float]]] = {}
    rot, trans, truth = [], [], []
    if trl is not None:
        trl.keep_diagnostics = True
    for seq in seqs:
        cams = seq.cameras
        recs = [r for c in cams for r in seq.frames[c]]
        images = torch.stack([read(r.file_name) for r in recs])
        chunks = []
        for i in range(0, len(images), cfg.batch_size):
            chunks.append(embed(images[i : i + cfg.batch_size]).float())
            if trl is not None:
                rot.append(trl.last_diagnostics.rotation.float())
                trans.append(trl.last_diagnostics.translation.float())
        if trl is not None:
            truth += [torch.tensor(r.cam_to_world, dtype=torch.float64) for r in recs]
        z = torch.cat(chunks).unflatten(0, (len(cams), len(seq.frame_indices)))
        groups = {c: seq.frames[c][0].extra.get("camera_group", "seen") for c in cams}
        pairs = list(itertools.combinations(range(len(cams)), 2))
        m = alignment_metrics(z[[a for a, _ in pairs]], z[[b for _, b in pairs]])
        task = per_task.setdefault(seq.category, {k: [] for k in METRICS})
        for k, (a, b) in enumerate(pairs):
            g = pair_group(groups[cams[a]], groups[cams[b]])
            for name in METRICS:
                per_group[g][name].append(float(m[name][k]))
                if g.startswith("fpv_tpv"):
                    task[name].append(float(m[name][k]))
    if trl is not None:
        trl.keep_diagnostics = False

    def mean(values: dict[str, list[float]]) -> dict[str, float]:
        return {k: round(float(np.nanmean(v)), 4) for k, v in values.items() if v and not np.all(np.isnan(v))}

    out: dict[str, Any] = {
        "groups": {g: {**mean(v), "pairs": len(v["align_err"])} for g, v in per_group.items() if v["align_err"]},
        "tasks_fpv_tpv": {t: mean(v) for t, v in per_task.items()},
        "trajectories": len(seqs),
    }
    if trl is not None and rot:
        out["camera_head"] = camera_head_diagnostic(torch.cat(rot), torch.cat(trans), torch.stack(truth),
                                                    cfg.diagnostic_pairs)  # fmt: skip
    return out
