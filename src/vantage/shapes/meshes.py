"""Load user meshes (``<root>/<category>/**/<id>.{obj,glb,ply,off,stl}``, ShapeNet/ModelNet layouts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from vantage.errors import VantageError
from vantage.shapes.core import Part, ShapeObject

__all__ = ["MESH_SUFFIXES", "MeshAsset", "MeshError", "axis_rotation", "load_mesh", "load_taxonomy", "scan_mesh_folder"]

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply", ".off", ".stl")
_DEFAULT_RGB = (0.7, 0.7, 0.7)


class MeshError(VantageError, ValueError):
    """A mesh file or mesh folder that cannot be used; the message names the path."""


@dataclass(frozen=True)
class MeshAsset:
    """One mesh file of a user folder: its category (the top folder), a unique id and the path."""

    category: str
    object_id: str
    path: Path


def scan_mesh_folder(root: str | Path) -> list[MeshAsset]:
    """All mesh files under ``root``, one category per top-level folder, sorted for determinism.

    ShapeNet (``<synset>/<model>/models/model_normalized.obj``) and ModelNet (``<class>/<train|test>/x.off``)
    both fit: the id is the path below the category folder with separators replaced.
    """
    root = Path(root)
    if not root.is_dir():
        raise MeshError(f"mesh folder {root} does not exist or is not a directory")
    assets = []
    for cat_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(cat_dir.rglob("*")):
            if path.suffix.lower() in MESH_SUFFIXES and path.is_file():
                rel = path.relative_to(cat_dir).with_suffix("")
                parts = [p for p in rel.parts if p not in ("models", "model_normalized")] or [rel.name]
                assets.append(MeshAsset(cat_dir.name, f"{cat_dir.name}-{'_'.join(parts)}", path))
    if not assets:
        raise MeshError(f"mesh folder {root} holds no mesh files ({', '.join(MESH_SUFFIXES)}) in category folders")
    return assets


def load_taxonomy(path: str | Path) -> dict[str, str]:
    """Folder name -> category name: ShapeNet's ``taxonomy.json`` (a list of ``{"synsetId", "name"}``; the first of
    the comma-separated names), a JSON object ``{folder: name}``, or a CSV of ``folder,name`` rows."""
    import csv
    import json

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"taxonomy file {path} does not exist")
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as f:
                rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
            out = {r[0].strip(): r[1].strip() for r in rows if len(r) >= 2 and r[0].strip() not in ("folder", "synset")}
        else:
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                out = {str(k): str(v) for k, v in data.items()}
            else:
                out = {str(e["synsetId"]): str(e["name"]).split(",")[0].strip() for e in data}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise MeshError(f"taxonomy file {path} is not a ShapeNet taxonomy.json, a {{folder: name}} JSON object or a "
                        f"folder,name CSV ({type(e).__name__}: {e})") from None  # fmt: skip
    if not out:
        raise MeshError(f"taxonomy file {path} maps no folder to a name")
    return out


def axis_rotation(up: str = "+z", front: str = "+x") -> np.ndarray:
    """3x3 rotation taking a mesh whose up/front axes are ``up``/``front`` (e.g. '+y', '-z') to +Z up, +X front."""

    def vec(spec: str, name: str) -> np.ndarray:
        spec = spec.strip().lower()
        if len(spec) != 2 or spec[0] not in "+-" or spec[1] not in "xyz":
            raise MeshError(f"{name} axis must look like '+y' or '-z', got {spec!r}")
        v = np.zeros(3)
        v["xyz".index(spec[1])] = 1.0 if spec[0] == "+" else -1.0
        return v

    u, f = vec(up, "up"), vec(front, "front")
    if abs(float(u @ f)) > 0.5:
        raise MeshError(f"up axis {up!r} and front axis {front!r} must be perpendicular")
    return np.stack([f, np.cross(u, f), u])  # rows: new x, new y, new z in old coordinates


def _face_colors(mesh: trimesh.Trimesh) -> np.ndarray:
    visual = mesh.visual
    try:
        if visual.kind == "texture":
            visual = visual.to_color()
        if visual.kind in ("vertex", "face"):
            return np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0
    except Exception:  # a texture trimesh cannot sample: fall back to a neutral grey
        pass
    return np.tile(_DEFAULT_RGB, (len(mesh.faces), 1))


def load_mesh(path: str | Path, category: str, up: str = "+z", front: str = "+x", max_parts: int = 48) -> ShapeObject:
    """Read a mesh as a normalised ShapeObject; faces are grouped into at most ``max_parts`` colour parts."""
    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file {path} does not exist")
    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as e:
        raise MeshError(f"could not read mesh file {path}: {type(e).__name__}: {e}") from e
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
        raise MeshError(f"mesh file {path} has no usable triangles (empty, or non-finite vertices)")
    mesh = mesh.copy()
    rot = np.eye(4)
    rot[:3, :3] = axis_rotation(up, front)
    mesh.apply_transform(rot)
    colors = _face_colors(mesh)
    for levels in (8, 4, 2):
        keys = np.floor(colors * (levels - 0.001)).astype(int)
        groups, inverse = np.unique(keys, axis=0, return_inverse=True)
        if len(groups) <= max_parts:
            break
    parts = []
    for g in range(len(groups)):
        idx = np.flatnonzero(inverse.reshape(-1) == g)
        sub = mesh.submesh([idx], append=True)
        rgb = colors[idx].mean(0)
        parts.append(Part(sub, (float(rgb[0]), float(rgb[1]), float(rgb[2]))))
    return ShapeObject(category, 0, parts, {"source": str(path)}).normalized()
