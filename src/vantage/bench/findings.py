"""The report's opening table: each paper claim a suite tests, our measured effect (mean ± std over seeds of the
same-seed difference), the paper's, and whether it reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Claim", "claim_row", "verdict"]


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


def claim_row(claim: Claim, deltas: dict[str, Any]) -> list[str]:
    """[claim, ours, paper, reproduced?] for a suite's deltas."""
    leaf = _lookup(deltas, claim.path)
    if leaf is None and claim.legacy:
        leaf = _lookup(deltas, claim.legacy)
    if isinstance(leaf, dict) and "mean" in leaf and int(leaf.get("n", 1)) < 2:
        ours = f"{leaf['mean']:+.{claim.digits}f} (n = 1: no spread)"
    elif isinstance(leaf, dict) and "mean" in leaf:
        ours = f"{leaf['mean']:+.{claim.digits}f} ± {leaf.get('std', 0.0):.{claim.digits}f}"
    else:
        ours = "-"
    return [claim.text, ours, claim.paper, verdict(leaf, claim.increase)]


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree
