"""The report's opening table: each paper claim a suite tests, our measured effect (mean ± std over seeds of the
same-seed difference), the paper's, and whether it reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Claim", "claim_row", "competence", "competence_rows", "verdict"]


@dataclass(frozen=True)
class Claim:
    """A paper's claim as a difference in a suite's ``deltas``: ``path`` (keys into it, starting with a
    ``Variant.key``), the paper's number and whether the claimed effect is an increase (``increase``) or a decrease
    of the metric. ``legacy`` is the same path in results.json files written before rows had keys (by label)."""

    text: str
    path: tuple[str, ...]
    paper: str
    increase: bool = True
    digits: int = 1
    legacy: tuple[str, ...] = ()
    # competence: the baseline's in-distribution score (a path into the result) and chance (a number, or a key of
    # the result); within ``margin`` of chance the claim cannot be judged and the verdict says so
    competence: tuple[str, ...] = ()
    chance: float | str | None = None
    margin: float = 10.0
    higher_is_better: bool = True


def verdict(leaf: Any, increase: bool) -> str:
    """ "yes" / "no" when the mean difference has the claimed / the opposite sign and exceeds its seed std,
    "unclear" when it does not; with one seed only the direction is reported."""
    if not isinstance(leaf, dict) or "mean" not in leaf:
        return "not run"
    mean, std, n = float(leaf["mean"]), float(leaf.get("std", 0.0)), int(leaf.get("n", 1))
    right = mean > 0 if increase else mean < 0
    if mean == 0:
        return f"no effect ({n} seed{'s' if n > 1 else ''})"
    if n < 2:
        return f"{'same' if right else 'opposite'} direction (1 seed: not decided)"
    if abs(mean) <= std:
        return f"unclear (the effect is within the seed std, {n} seeds)"
    return f"yes ({n} seeds)" if right else f"no: the opposite ({n} seeds)"


def competence(claim: Claim, result: dict[str, Any]) -> str | None:
    """The "uninformative" verdict when the claim's baseline scores within ``margin`` of chance (it has not learned
    the task it is being shifted away from), else None (also when the result does not say)."""
    chance = result.get(claim.chance) if isinstance(claim.chance, str) else claim.chance
    leaf = _lookup(result, claim.competence) if claim.competence else None
    if chance is None or not isinstance(leaf, dict) or "mean" not in leaf:
        return None
    score = float(leaf["mean"])
    gain = score - float(chance) if claim.higher_is_better else float(chance) - score
    if gain >= claim.margin:
        return None
    return (f"uninformative: the baseline has not learned its task (in distribution {score:.{claim.digits}f}, "
            f"chance {float(chance):.{claim.digits}f}, margin {claim.margin:g})")  # fmt: skip


def competence_rows(claims: tuple[Claim, ...], result: dict[str, Any]) -> list[list[str]]:
    """[baseline, last training loss, learning-curve probes (last), in-distribution score, chance] per baseline
    of a suite: its learning curves' ends (``result["curves"]["final"]``) beside the score the claims' verdicts
    rest on."""
    final = result.get("curves", {}).get("final", {})
    labels = result.get("labels", {})
    judged: dict[str, tuple[str, str]] = {}
    for c in claims:
        leaf = _lookup(result, c.competence) if c.competence else None
        chance = result.get(c.chance) if isinstance(c.chance, str) else c.chance
        if isinstance(leaf, dict) and "mean" in leaf and len(c.competence) > 1:
            judged.setdefault(c.competence[1], (f"{leaf['mean']:.{c.digits}f} ({'.'.join(c.competence[2:])})",
                                                "-" if chance is None else f"{float(chance):.{c.digits}f}"))
    rows = []
    for key in dict.fromkeys([*final, *judged]):
        f = final.get(key, {})
        probes = ", ".join(f"{k} {v:.1f}" for k, v in f.items() if k not in ("loss", "seeds")) or "-"
        loss = f"{f['loss']:.3f}" if "loss" in f else "-"
        score, chance = judged.get(key, ("-", "-"))
        rows.append([labels.get(key, key), loss, probes, score, chance])
    return rows


def claim_row(claim: Claim, deltas: dict[str, Any], result: dict[str, Any] | None = None) -> list[str]:
    """[claim, ours, paper, reproduced?] for a suite's deltas (and, given the whole result, its competence)."""
    leaf = _lookup(deltas, claim.path)
    if leaf is None and claim.legacy:
        leaf = _lookup(deltas, claim.legacy)
    if isinstance(leaf, dict) and "mean" in leaf and int(leaf.get("n", 1)) < 2:
        ours = f"{leaf['mean']:+.{claim.digits}f} (n = 1: no spread)"
    elif isinstance(leaf, dict) and "mean" in leaf:
        ours = f"{leaf['mean']:+.{claim.digits}f} ± {leaf.get('std', 0.0):.{claim.digits}f}"
    else:
        ours = "-"
    judged = competence(claim, result or {}) if leaf is not None else None
    return [claim.text, ours, claim.paper, judged or verdict(leaf, claim.increase)]


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree
