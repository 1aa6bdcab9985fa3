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

__all__ = [
    "AlignEvalConfig",
    "camera_head_diagnostic",
    "evaluate_alignment",
    "pair_group",
    "phase_progress",
    "phase_scores",
    "retrieval_panels",
    "ridge_r2",
]

GROUPS = ("fpv_tpv/seen", "fpv_tpv/unseen", "tpv_tpv/seen", "tpv_tpv/unseen")
METRICS = ("align_err", "cycle_err", "tau", "tau_b")


@dataclass
class AlignEvalConfig:
    """What the benchmark scores."""

    split: str = "test"
    batch_size: int = 128
    diagnostic_pairs: int = 4000
    phase_probes: bool = True  # fit phase classification / progression probes on the training trajectories
    probe_steps: int = 300


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


def phase_progress(phases: list[str]) -> np.ndarray:
    """Per frame, how far it is through its phase (TCC's phase progression target): (t - start) / length of
    the contiguous run of equal labels the frame is in, in [0, 1)."""
    out = np.zeros(len(phases))
    start = 0
    for t in range(1, len(phases) + 1):
        if t == len(phases) or phases[t] != phases[start]:
            out[start:t] = np.arange(t - start) / (t - start)
            start = t
    return out


def ridge_r2(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
             alpha: float = 1.0) -> float:  # fmt: skip
    """R^2 on the test set of a ridge regression (standardised features, closed form) fitted on the train set."""
    from vantage.eval.probes import Standardizer

    std = Standardizer(train_x.double())
    xtr, xte = std(train_x.double()), std(test_x.double())
    ytr, yte = train_y.double(), test_y.double()
    mu = ytr.mean()
    w = torch.linalg.solve(xtr.T @ xtr + alpha * torch.eye(xtr.shape[1], dtype=xtr.dtype), xtr.T @ (ytr - mu))
    res = ((xte @ w + mu - yte) ** 2).sum()
    tot = ((yte - yte.mean()) ** 2).sum().clamp_min(1e-12)
    return float(1 - res / tot)


@dataclass
class _Embedded:
    """One trajectory's embeddings: z (V, T, D), its cameras, groups, phases and the rows."""

    seq: Any
    z: torch.Tensor
    groups: dict[str, str]
    phases: list[str]


def _embed_split(embed: Callable[[torch.Tensor], torch.Tensor], root: Path, split: str, image_size: int,
                 batch_size: int, trl: Any = None, camera_log: dict[str, list] | None = None,
                 device: torch.device | str = "cpu") -> list[_Embedded]:  # fmt: skip
    """Embed every frame of every camera of the split's trajectories; with ``trl``, append the predicted
    rotations and translations and the true cam_to_world of every frame to ``camera_log`` (lists by key)."""
    from PIL import Image

    from vantage.data.clips import index_sequences
    from vantage.data.schema import inside
    from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor

    tf = to_tensor(image_size, IMAGENET_MEAN, IMAGENET_STD)

    def read(rel: str) -> torch.Tensor:
        with Image.open(inside(root, rel)) as im:
            return tf(im.convert("RGB"))

    rows = [r for r in load_records(root) if r.split == split and r.sequence_id is not None]
    out = []
    for seq in index_sequences(rows, where=str(root)):
        recs = [r for c in seq.cameras for r in seq.frames[c]]
        images = torch.stack([read(r.file_name) for r in recs])
        chunks = []
        for i in range(0, len(images), batch_size):
            chunks.append(embed(images[i : i + batch_size].to(device)).float().cpu())
            if trl is not None and camera_log is not None:
                camera_log["rot"].append(trl.last_diagnostics.rotation.float().cpu())
                camera_log["trans"].append(trl.last_diagnostics.translation.float().cpu())
        if trl is not None and camera_log is not None:
            camera_log["truth"] += [torch.tensor(r.cam_to_world, dtype=torch.float64) for r in recs]
        z = torch.cat(chunks).unflatten(0, (len(seq.cameras), len(seq.frame_indices)))
        groups = {c: seq.frames[c][0].extra.get("camera_group", "seen") for c in seq.cameras}
        phases = [r.phase or "" for r in seq.frames[seq.cameras[0]]]
        out.append(_Embedded(seq, z, groups, phases))
    return out


def phase_scores(train: list[_Embedded], test: list[_Embedded], steps: int = 300, seed: int = 0
                 ) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per task (and their mean): phase classification top-1 of a linear classifier and phase progression R^2
    of a ridge regression, both fitted on every camera's frames of the training trajectories and scored on the
    held-out ones (TCC's two probes; a linear classifier trained with Adam stands in for TCC's linear SVM)."""
    from vantage.eval.probes import linear_probe

    def stack(items: list[_Embedded]) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        xs = torch.cat([e.z.flatten(0, 1) for e in items])
        labels = [p for e in items for _ in e.seq.cameras for p in e.phases]
        prog = torch.cat([torch.from_numpy(phase_progress(e.phases)).repeat(len(e.seq.cameras)) for e in items])
        return xs, labels, prog

    out: dict[str, dict[str, float]] = {}
    for task in sorted({e.seq.category for e in test}):
        tr = [e for e in train if e.seq.category == task]
        te = [e for e in test if e.seq.category == task]
        if not tr or not any(e.phases[0] for e in te):
            continue
        xtr, ltr, ptr = stack(tr)
        xte, lte, pte = stack(te)
        names = sorted(set(ltr) | set(lte))
        ytr = torch.tensor([names.index(n) for n in ltr])
        yte = torch.tensor([names.index(n) for n in lte])
        with torch.enable_grad():  # the benchmark runs under no_grad; the probe trains
            acc = linear_probe(xtr, ytr, xte, yte, len(names), steps=steps, seed=seed)
        out[task] = {"phase_acc": round(100 * acc, 2), "progress_r2": round(ridge_r2(xtr, ptr, xte, pte), 4)}
    if out:
        out["mean"] = {k: round(float(np.mean([v[k] for v in out.values()])), 4) for k in ("phase_acc", "progress_r2")}
    return out


def _retrieval_example(items: list[_Embedded]) -> dict[str, Any] | None:
    """For the first held-out trajectory: each first-person frame's nearest frame in the first unseen (else
    last) third-person camera, the pair the retrieval picture shows."""
    from vantage.eval.alignment import nearest_frames

    for e in items:
        cams = e.seq.cameras
        if "fpv" not in cams or len(cams) < 2:
            continue
        unseen = [c for c in cams if e.groups[c] == "unseen"]
        target = unseen[0] if unseen else cams[-1]
        nn = nearest_frames(e.z[cams.index("fpv")], e.z[cams.index(target)])
        return {"sequence_id": e.seq.sequence_id, "query": "fpv", "target": target, "nn": nn.tolist()}
    return None


@torch.no_grad()
def evaluate_alignment(embed: Callable[[torch.Tensor], torch.Tensor], root: str | Path, image_size: int,
                       cfg: AlignEvalConfig | None = None, trl: Any = None, device: torch.device | str = "cpu"
                       ) -> dict[str, Any]:  # fmt: skip
    """Alignment metrics (mean over trajectories and pairs) per group and per task, phase classification and
    progression probes (fitted on the training trajectories), the retrieval example behind the picture, and,
    when ``trl`` (a 3DTRL layer inside ``embed``'s model) is given, the camera-head diagnostic over every frame
    scored. Frames are moved to ``device`` (where ``embed``'s model is) and embeddings back to CPU."""
    cfg = cfg or AlignEvalConfig()
    root = Path(root)
    log: dict[str, list] = {"rot": [], "trans": [], "truth": []}
    if trl is not None:
        trl.keep_diagnostics = True
    try:
        test = _embed_split(embed, root, cfg.split, image_size, cfg.batch_size, trl, log, device)
        train = (_embed_split(embed, root, "train", image_size, cfg.batch_size, device=device)
                 if cfg.phase_probes else [])  # fmt: skip
    finally:
        if trl is not None:
            trl.keep_diagnostics = False
    if not test:
        raise ValueError(f"{root} has no {cfg.split} sequences to align")
    per_group: dict[str, dict[str, list[float]]] = {g: {m: [] for m in METRICS} for g in GROUPS}
    per_task: dict[str, dict[str, list[float]]] = {}
    for e in test:
        cams = e.seq.cameras
        pairs = list(itertools.combinations(range(len(cams)), 2))
        m = alignment_metrics(e.z[[a for a, _ in pairs]], e.z[[b for _, b in pairs]])
        task = per_task.setdefault(e.seq.category, {k: [] for k in METRICS})
        for k, (a, b) in enumerate(pairs):
            g = pair_group(e.groups[cams[a]], e.groups[cams[b]])
            for name in METRICS:
                per_group[g][name].append(float(m[name][k]))
                if g.startswith("fpv_tpv"):
                    task[name].append(float(m[name][k]))

    def mean(values: dict[str, list[float]]) -> dict[str, float]:
        return {k: round(float(np.nanmean(v)), 4) for k, v in values.items() if v and not np.all(np.isnan(v))}

    out: dict[str, Any] = {
        "groups": {g: {**mean(v), "pairs": len(v["align_err"])} for g, v in per_group.items() if v["align_err"]},
        "tasks_fpv_tpv": {t: mean(v) for t, v in per_task.items()},
        "trajectories": len(test),
    }
    if train:
        out["phases"] = phase_scores(train, test, cfg.probe_steps)
    example = _retrieval_example(test)
    if example is not None:
        out["retrieval"] = example
    if trl is not None and log["rot"]:
        out["camera_head"] = camera_head_diagnostic(torch.cat(log["rot"]), torch.cat(log["trans"]),
                                                    torch.stack(log["truth"]), cfg.diagnostic_pairs)  # fmt: skip
    return out


def retrieval_panels(root: str | Path, examples: dict[str, dict[str, Any]], n: int = 8
                     ) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]], list[list[str]]]:  # fmt: skip
    """Images for the retrieval picture: ``n`` evenly spaced first-person query frames of the examples'
    trajectory, the true synchronised third-person frames, and each model's retrieved frame (``examples`` maps a
    model name to its ``retrieval`` entry; all must name the same trajectory and cameras). Returns
    (query images, {row name: images}, per-row captions)."""
    from PIL import Image

    from vantage.data.clips import index_sequences
    from vantage.data.schema import inside

    first = next(iter(examples.values()))
    seq_id, query, target = first["sequence_id"], first["query"], first["target"]
    if any((e["sequence_id"], e["query"], e["target"]) != (seq_id, query, target) for e in examples.values()):
        raise ValueError("retrieval examples name different trajectories or cameras")
    root = Path(root)
    rows = [r for r in load_records(root) if r.sequence_id == seq_id]
    seq = index_sequences(rows, [query, target], str(root))[0]
    length = len(seq.frame_indices)
    pos = np.linspace(0, length - 1, n).round().astype(int).tolist()

    def image(cam: str, p: int) -> np.ndarray:
        with Image.open(inside(root, seq.frames[cam][p].file_name)) as im:
            return np.asarray(im.convert("RGB"))

    grid = {f"true {target}": [image(target, p) for p in pos]}
    titles = [[f"t={p}" for p in pos], [f"t={p}" for p in pos]]
    for name, e in examples.items():
        got = [int(e["nn"][p]) for p in pos]
        grid[name] = [image(target, g) for g in got]
        titles.append([f"t={g} ({g - p:+d})" for p, g in zip(pos, got, strict=True)])
    return [image(query, p) for p in pos], grid, titles
