"""View sets (Fibonacci lattices, adjacent-view triplets, near-front canonical views) and captions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vantage.geometry import (
    adjacent_triplet,
    cartesian_to_spherical,
    fibonacci_angles,
    random_tangent,
    random_unit_vectors,
)

__all__ = ["ViewSetConfig", "ViewSpec", "caption_for", "view_phrase", "views_for"]

VIEW_KINDS = ("fibonacci", "triplet", "canonical", "random")


@dataclass
class ViewSetConfig:
    """How to place the cameras of one named view set.

    * ``fibonacci``: the Fib(n) lattice (whole sphere, or ``hemisphere``); the same poses for every object.
    * ``triplet``: n adjacent-view triplets (L, C, R) per object, centres uniform on the sphere, L and R
      ``step_deg`` away from the centre along a random great circle (pose-aware SSL).
    * ``canonical``: n near-front views per object, |azimuth| <= ``azimuth_range`` and elevation in
      ``elevation_range`` (the biased view distribution of web photos).
    * ``random``: n views uniform on the sphere (or hemisphere) per object.
    """

    kind: str
    n: int
    hemisphere: bool = False
    step_deg: float = 10.0
    azimuth_range: float = 35.0
    elevation_range: tuple[float, float] = (5.0, 25.0)

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"view set kind must be one of {VIEW_KINDS}, got {self.kind!r}")
        if self.n < 1:
            raise ValueError(f"view set n must be >= 1, got {self.n}")
        if not 0.0 < self.step_deg < 90.0:
            raise ValueError(f"step_deg must be in (0, 90), got {self.step_deg}")
        lo, hi = self.elevation_range
        if not -90.0 <= lo <= hi <= 90.0:
            raise ValueError(f"elevation_range must satisfy -90 <= lo <= hi <= 90, got {self.elevation_range}")


@dataclass
class ViewSpec:
    """One camera placement of one object."""

    view_set: str
    view_id: int
    azimuth_deg: float
    elevation_deg: float
    roll_deg: float = 0.0
    triplet_id: int | None = None
    triplet_pos: str | None = None


def views_for(name: str, cfg: ViewSetConfig, rng: np.random.Generator) -> list[ViewSpec]:
    """The camera placements of view set ``name`` for one object (random kinds draw from ``rng``)."""
    if cfg.kind == "fibonacci":
        az, el = fibonacci_angles(cfg.n, cfg.hemisphere)
        return [ViewSpec(name, i, float(a), float(e)) for i, (a, e) in enumerate(zip(az, el, strict=True))]
    if cfg.kind == "triplet":
        centres = random_unit_vectors(rng, cfg.n, cfg.hemisphere)
        dirs = adjacent_triplet(centres, random_tangent(rng, centres), cfg.step_deg)  # (n, 3, 3)
        az, el, _ = cartesian_to_spherical(dirs)
        return [
            ViewSpec(name, 3 * t + k, float(az[t, k]), float(el[t, k]), triplet_id=t, triplet_pos="LCR"[k])
            for t in range(cfg.n)
            for k in range(3)
        ]
    if cfg.kind == "canonical":
        az = np.mod(rng.uniform(-cfg.azimuth_range, cfg.azimuth_range, cfg.n), 360.0)
        el = rng.uniform(*cfg.elevation_range, cfg.n)
        return [ViewSpec(name, i, float(a), float(e)) for i, (a, e) in enumerate(zip(az, el, strict=True))]
    az, el, _ = cartesian_to_spherical(random_unit_vectors(rng, cfg.n, cfg.hemisphere))
    return [ViewSpec(name, i, float(a), float(e)) for i, (a, e) in enumerate(zip(az, el, strict=True))]


_SIDES = ["front", "front-left", "left side", "back-left", "back", "back-right", "right side", "front-right"]


def view_phrase(azimuth_deg: float, elevation_deg: float) -> str:
    """Words for a viewpoint relative to the object's front (+X) and its left side (+Y)."""
    if elevation_deg > 60:
        return "seen from above"
    if elevation_deg < -45:
        return "seen from below"
    side = _SIDES[int(((azimuth_deg + 22.5) % 360.0) // 45.0)]
    height = " and above" if elevation_deg > 30 else (" and below" if elevation_deg < -15 else "")
    return f"seen from the {side}{height}"


_TEMPLATES = ["a photo of {a}.", "a rendering of {a}.", "a 3d model of {a}.", "{a}.", "a picture of {a}."]
_VIEW_TEMPLATES = ["a photo of {a}, {v}.", "a rendering of {a} {v}.", "{a} {v}."]


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def caption_for(category: str, azimuth_deg: float, elevation_deg: float, rng: np.random.Generator) -> tuple[str, str]:
    """(caption without view words, caption with view words) from category-guided templates."""
    a = _with_article(category.replace("_", " "))
    plain = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(a=a)
    viewed = _VIEW_TEMPLATES[int(rng.integers(len(_VIEW_TEMPLATES)))].format(
        a=a, v=view_phrase(azimuth_deg, elevation_deg)
    )
    return plain, viewed
