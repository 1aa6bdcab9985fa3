"""Coloured part meshes, the primitive builder the category modules use, and the category registry."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh

from vantage.errors import VantageError

__all__ = [
    "CATEGORIES",
    "Builder",
    "Category",
    "Part",
    "ShapeObject",
    "UnknownCategoryError",
    "generate",
    "get_category",
    "in_domain_categories",
    "out_of_domain_categories",
    "register",
]

RGB = tuple[float, float, float]

# Shared palettes (RGB in [0, 1]).
DARK = [(0.08, 0.08, 0.1), (0.15, 0.15, 0.17)]  # small details only: tyres, screens, holes
CHARCOAL = [(0.3, 0.3, 0.33), (0.36, 0.33, 0.3)]  # dark bodies that must still read on a black background
METAL = [(0.55, 0.57, 0.6), (0.7, 0.7, 0.72), (0.4, 0.42, 0.45)]
WOOD = [(0.55, 0.35, 0.18), (0.7, 0.5, 0.3), (0.4, 0.25, 0.12), (0.8, 0.65, 0.45)]
PAINT = [(0.8, 0.1, 0.1), (0.1, 0.3, 0.8), (0.95, 0.8, 0.1), (0.1, 0.6, 0.25), (0.9, 0.9, 0.9), (0.95, 0.5, 0.1)]
FABRIC = [(0.6, 0.2, 0.2), (0.2, 0.35, 0.55), (0.45, 0.45, 0.45), (0.3, 0.5, 0.3), (0.75, 0.7, 0.55)]
GLASS = [(0.35, 0.6, 0.8), (0.25, 0.45, 0.6)]
LIGHT = [(1.0, 0.95, 0.6)]
RED_LIGHT = [(0.9, 0.05, 0.05)]
WHITE = [(0.95, 0.95, 0.95)]


class UnknownCategoryError(VantageError, KeyError):
    """A category name that the shape zoo does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


@dataclass
class Part:
    """One rigid piece of an object with a single RGB colour in [0, 1]."""

    mesh: trimesh.Trimesh
    color: RGB


@dataclass
class ShapeObject:
    """An object in its canonical frame (+Z up, front +X) made of coloured parts."""

    category: str
    seed: int
    parts: list[Part]
    meta: dict = field(default_factory=dict)

    def bounds(self) -> np.ndarray:
        """(2, 3) axis-aligned bounds over all parts."""
        verts = np.concatenate([p.mesh.vertices for p in self.parts])
        return np.stack([verts.min(0), verts.max(0)])

    def normalized(self, copy: bool = True) -> ShapeObject:
        """Centred on its bounding-box centre and scaled so the farthest vertex is at distance 1.

        ``copy=False`` moves this object's own meshes (cheaper) and returns it.
        """
        lo, hi = self.bounds()
        centre = (lo + hi) / 2.0
        radius = max(float(np.linalg.norm(p.mesh.vertices - centre, axis=1).max()) for p in self.parts)
        target = (
            ShapeObject(self.category, self.seed, [Part(p.mesh.copy(), p.color) for p in self.parts], dict(self.meta))
            if copy
            else self
        )
        for p in target.parts:
            p.mesh.vertices = (np.asarray(p.mesh.vertices) - centre) / radius
        return target

    def to_trimesh(self) -> trimesh.Trimesh:
        """All parts in one mesh with per-face colours (for export and inspection)."""
        meshes = []
        for p in self.parts:
            m = p.mesh.copy()
            m.visual.face_colors = np.array([*(np.asarray(p.color) * 255).round(), 255], dtype=np.uint8)
            meshes.append(m)
        return trimesh.util.concatenate(meshes)


def _axis_transform(axis: str | Sequence[float]) -> np.ndarray:
    vec = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis] if isinstance(axis, str) else axis
    return trimesh.geometry.align_vectors([0.0, 0.0, 1.0], np.asarray(vec, dtype=np.float64))


class Builder:
    """Collects coloured primitives for one object; sizes and positions are in the canonical frame."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.parts: list[Part] = []

    # -- randomness -------------------------------------------------------------------------------
    def u(self, lo: float, hi: float) -> float:
        """A uniform float in [lo, hi)."""
        return float(self.rng.uniform(lo, hi))

    def i(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi] (inclusive)."""
        return int(self.rng.integers(lo, hi + 1))

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return bool(self.rng.random() < p)

    def color(self, palette: Sequence[RGB], jitter: float = 0.06) -> RGB:
        """A palette colour with a small random jitter."""
        base = np.asarray(palette[int(self.rng.integers(len(palette)))], dtype=np.float64)
        c = np.clip(base + self.rng.uniform(-jitter, jitter, 3), 0.0, 1.0)
        return (float(c[0]), float(c[1]), float(c[2]))

    # -- primitives -------------------------------------------------------------------------------
    def add(self, mesh: trimesh.Trimesh, color: RGB) -> trimesh.Trimesh:
        """Add an arbitrary mesh as a part."""
        self.parts.append(Part(mesh, color))
        return mesh

    def box(self, size: Sequence[float], at: Sequence[float], color: RGB, rot_deg: Sequence[float] = (0, 0, 0)):
        """Axis-aligned box of full extents ``size`` centred at ``at``, optionally rotated (xyz Euler, deg)."""
        tf = trimesh.transformations.euler_matrix(*np.deg2rad(rot_deg), axes="sxyz")
        tf[:3, 3] = at
        return self.add(trimesh.creation.box(extents=size, transform=tf), color)

    def cylinder(self, radius: float, height: float, at: Sequence[float], color: RGB, axis="z", sections: int = 20):
        """Cylinder centred at ``at`` with its axis along ``axis`` ('x', 'y', 'z' or a vector)."""
        tf = _axis_transform(axis)
        tf[:3, 3] = at
        return self.add(trimesh.creation.cylinder(radius=radius, height=height, sections=sections, transform=tf), color)

    def rod(self, p0: Sequence[float], p1: Sequence[float], radius: float, color: RGB, sections: int = 12):
        """A cylinder from point ``p0`` to point ``p1``."""
        p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
        d = p1 - p0
        return self.cylinder(radius, float(np.linalg.norm(d)), (p0 + p1) / 2.0, color, axis=d, sections=sections)

    def cone(self, radius: float, height: float, base_at: Sequence[float], color: RGB, axis="z", sections: int = 20):
        """Cone with its base centred at ``base_at`` and its tip ``height`` along ``axis``."""
        tf = _axis_transform(axis)
        tf[:3, 3] = base_at
        return self.add(trimesh.creation.cone(radius=radius, height=height, sections=sections, transform=tf), color)

    def sphere(self, radius: float, at: Sequence[float], color: RGB, scale: Sequence[float] = (1, 1, 1)):
        """(Ellipsoidal) sphere centred at ``at``; ``scale`` stretches it per axis."""
        m = trimesh.creation.icosphere(subdivisions=2, radius=radius)
        m.apply_scale(scale)
        m.apply_translation(at)
        return self.add(m, color)

    def torus(self, major: float, minor: float, at: Sequence[float], color: RGB, axis="z"):
        """Torus centred at ``at`` whose ring lies in the plane normal to ``axis``."""
        tf = _axis_transform(axis)
        tf[:3, 3] = at
        m = trimesh.creation.torus(major_radius=major, minor_radius=minor, major_sections=24, minor_sections=10)
        m.apply_transform(tf)
        return self.add(m, color)

    def hull(self, points: Sequence[Sequence[float]], color: RGB):
        """The convex hull of ``points`` (tapered hulls, wedges, noses)."""
        return self.add(trimesh.convex.convex_hull(np.asarray(points, dtype=np.float64)), color)

    def prism(self, polygon_xz: Sequence[Sequence[float]], width: float, y: float, color: RGB):
        """A convex side profile in the XZ plane extruded ``width`` along Y, centred at ``y``."""
        pts = [(x, y + s * width / 2.0, z) for x, z in polygon_xz for s in (-1.0, 1.0)]
        return self.hull(pts, color)


@dataclass(frozen=True)
class Category:
    """A procedural object category: its builder, domain and the symmetry its objects have."""

    name: str
    domain: str  # "in" (the 13 ShapeNet-13 stand-ins) or "out" (held-out categories)
    symmetry: str  # human-readable: which symmetries remain and what breaks the others
    build: Callable[[Builder], None]


CATEGORIES: dict[str, Category] = {}


def register(name: str, domain: str, symmetry: str) -> Callable[[Callable[[Builder], None]], Callable[[Builder], None]]:
    """Decorator that registers a builder function as a category."""

    def wrap(fn: Callable[[Builder], None]) -> Callable[[Builder], None]:
        if name in CATEGORIES:
            raise ValueError(f"category {name!r} registered twice")
        CATEGORIES[name] = Category(name, domain, symmetry, fn)
        return fn

    return wrap


def get_category(name: str) -> Category:
    """The registered category ``name``; a clear error lists the known names otherwise."""
    try:
        return CATEGORIES[name]
    except KeyError:
        raise UnknownCategoryError(
            f"unknown category {name!r}; known categories: {', '.join(sorted(CATEGORIES))}"
        ) from None


def in_domain_categories() -> list[str]:
    """The 13 in-domain categories, in the benchmark's (alphabetical) order."""
    return sorted(n for n, c in CATEGORIES.items() if c.domain == "in")


def out_of_domain_categories() -> list[str]:
    """The 11 out-of-domain categories, alphabetical."""
    return sorted(n for n, c in CATEGORIES.items() if c.domain == "out")


def category_seed(category: str, seed: int) -> np.random.SeedSequence:
    """Seed sequence for one instance: stable across runs and platforms (crc32 of the name, not hash())."""
    return np.random.SeedSequence([zlib.crc32(category.encode()), int(seed)])


def generate(category: str, seed: int) -> ShapeObject:
    """Build instance ``seed`` of ``category``, normalised to the unit sphere; deterministic in both."""
    cat = get_category(category)
    builder = Builder(np.random.default_rng(category_seed(category, seed)))
    cat.build(builder)
    return ShapeObject(category, int(seed), builder.parts).normalized(copy=False)
