"""Small stand-ins for data a user brings, written for real (rendered images, exported meshes): a COIL-style
turntable folder and a ShapeNet-style mesh folder. The tests and the README example runner use them where the
user's own folders would be."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["SAMPLE_SYNSETS", "render_turntable", "write_mesh_folder"]

# ShapeNet synset ids and names for the mesh sample (the taxonomy.json entries ShapeNetCore ships).
SAMPLE_SYNSETS = {"02691156": "airplane,aeroplane,plane", "03001627": "chair"}
_FIRST_CATEGORIES = ("airplane", "car", "chair", "table", "sofa", "lamp")  # distinct silhouettes first


def render_turntable(root: str | Path, objects: int = 6, poses: int = 12, size: int = 32,
                     elevation: float = 10.0) -> Path:  # fmt: skip
    """Render ``objects`` procedural objects (one per in-domain category) at ``poses`` azimuths 360/poses apart, named
    ``obj<k>__<pose>.png`` (k from 1) as COIL-20 names them; returns ``root``."""
    import numpy as np
    from PIL import Image

    from vantage.data.build import BuildConfig, load_task_shape, plan_objects
    from vantage.geometry import camera_pose
    from vantage.render import Camera, Light, create_renderer
    from vantage.render.base import Background
    from vantage.shapes import in_domain_categories

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys([*_FIRST_CATEGORIES, *in_domain_categories()]))[:objects]
    cfg = BuildConfig(name="turntable", image_size=size, in_domain=names, out_of_domain=[], objects_per_category=3)
    tasks = [t for t in plan_objects(cfg) if t.split == "train"]
    tasks = [next(t for t in tasks if t.category == c) for c in names]
    renderer = create_renderer("pybullet", supersample=1)
    try:
        for k, task in enumerate(tasks, 1):
            renderer.set_object(load_task_shape(task, cfg))
            for pose in range(poses):
                cam = Camera(camera_pose(pose * 360 / poses, elevation, 3.0), size, size, 40.0)
                rgb = renderer.render(cam, Light(), Background(), np.random.default_rng(0)).rgb
                Image.fromarray(rgb).save(root / f"obj{k}__{pose}.png")
    finally:
        renderer.close()
    return root


def write_mesh_folder(root: str | Path, per_synset: int = 2) -> Path:
    """A ShapeNetCore-style folder: ``<synset>/<model>/models/model_normalized.obj`` (+y up, -z front, as
    ShapeNet stores them) for :data:`SAMPLE_SYNSETS`, and its ``taxonomy.json``; returns ``root``."""
    import trimesh

    root = Path(root)
    makers = {
        "02691156": lambda i: trimesh.creation.box(extents=(0.6, 0.2 + 0.1 * i, 1.0)),
        "03001627": lambda i: trimesh.creation.cylinder(0.3, 0.8 + 0.2 * i),
    }
    for synset, make in makers.items():
        for i in range(per_synset):
            folder = root / synset / f"model{i}" / "models"
            folder.mkdir(parents=True, exist_ok=True)
            make(i).export(folder / "model_normalized.obj")
    taxonomy = [{"synsetId": s, "name": n} for s, n in SAMPLE_SYNSETS.items()]
    (root / "taxonomy.json").write_text(json.dumps(taxonomy))
    return root
