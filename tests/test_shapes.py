"""The procedural shape zoo and the user mesh loader."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from vantage.shapes import (
    UnknownCategoryError,
    generate,
    get_category,
    in_domain_categories,
    out_of_domain_categories,
)
from vantage.shapes.meshes import MeshError, axis_rotation, load_mesh, scan_mesh_folder

SHAPENET13 = [
    "airplane",
    "bench",
    "cabinet",
    "car",
    "chair",
    "display",
    "lamp",
    "loudspeaker",
    "rifle",
    "sofa",
    "table",
    "telephone",
    "watercraft",
]


def test_category_lists():
    assert in_domain_categories() == SHAPENET13
    ood = out_of_domain_categories()
    assert len(ood) == 11 and not set(ood) & set(SHAPENET13)
    assert {"bookshelf", "motorcycle"} <= set(ood)  # the two OOD categories the paper names
    for name in SHAPENET13 + ood:
        assert len(get_category(name).symmetry) > 10  # every category documents its symmetry


@pytest.mark.parametrize("category", SHAPENET13 + out_of_domain_categories())
def test_instances_are_deterministic_normalised_and_varied(category):
    a, b, c = generate(category, 7), generate(category, 7), generate(category, 8)
    va = np.concatenate([p.mesh.vertices for p in a.parts])
    np.testing.assert_array_equal(va, np.concatenate([p.mesh.vertices for p in b.parts]))
    assert [p.color for p in a.parts] == [p.color for p in b.parts]
    vc = np.concatenate([p.mesh.vertices for p in c.parts])
    assert va.shape != vc.shape or not np.allclose(va, vc)  # another seed, another instance
    assert np.isclose(np.linalg.norm(va, axis=1).max(), 1.0)  # unit sphere
    lo, hi = a.bounds()
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-9)
    assert all(len(p.mesh.faces) > 0 and all(0 <= ch <= 1 for ch in p.color) for p in a.parts)


def test_unknown_category_names_the_known_ones():
    with pytest.raises(UnknownCategoryError, match=r"unknown category 'spaceship'.*airplane"):
        generate("spaceship", 0)


def test_to_trimesh_keeps_part_colours():
    obj = generate("car", 0)
    mesh = obj.to_trimesh()
    assert len(mesh.faces) == sum(len(p.mesh.faces) for p in obj.parts)
    assert len(np.unique(mesh.visual.face_colors[:, :3], axis=0)) >= 3


def test_axis_rotation_shapenet_convention():
    rot = axis_rotation(up="+y", front="-z")
    np.testing.assert_allclose(rot @ [0, 1, 0], [0, 0, 1])
    np.testing.assert_allclose(rot @ [0, 0, -1], [1, 0, 0])
    assert np.isclose(np.linalg.det(rot), 1.0)
    with pytest.raises(MeshError, match=r"perpendicular"):
        axis_rotation("+y", "-y")
    with pytest.raises(MeshError, match=r"'up'|up axis"):
        axis_rotation("y", "+x")


def _write_box(path, extents, color=(200, 30, 30, 255)):
    box = trimesh.creation.box(extents=extents)
    box.visual.face_colors = color
    path.parent.mkdir(parents=True, exist_ok=True)
    box.export(path)


def test_mesh_folder_scan_and_load(tmp_path):
    _write_box(tmp_path / "crate" / "a.ply", (1.0, 3.0, 1.0))  # long along Y (its "up" in a +y-up file)
    _write_box(tmp_path / "crate" / "sub" / "b.obj", (1, 1, 1))
    _write_box(tmp_path / "shelf" / "x1" / "models" / "model_normalized.obj", (2, 1, 1))
    assets = scan_mesh_folder(tmp_path)
    assert [a.category for a in assets] == ["crate", "crate", "shelf"]
    assert [a.object_id for a in assets] == ["crate-a", "crate-sub_b", "shelf-x1"]
    obj = load_mesh(tmp_path / "crate" / "a.ply", "crate", up="+y", front="+x")
    lo, hi = obj.bounds()
    assert (hi - lo)[2] > 2 * (hi - lo)[0]  # the long axis became +Z
    assert np.isclose(max(np.linalg.norm(p.mesh.vertices, axis=1).max() for p in obj.parts), 1.0)
    assert any(p.color[0] > 0.6 and p.color[1] < 0.3 for p in obj.parts)  # face colour survived


def test_malformed_mesh_errors_name_the_file(tmp_path):
    bad = tmp_path / "thing" / "broken.obj"
    bad.parent.mkdir()
    bad.write_text("v 0 0 0\nv 1 nope 0\nf 1 2 3\nthis is not a mesh\n")
    with pytest.raises(MeshError, match=r"broken.obj"):
        load_mesh(bad, "thing")
    garbage = tmp_path / "thing" / "garbage.glb"
    garbage.write_bytes(b"\x00\x01not a gltf at all")
    with pytest.raises(MeshError, match=r"garbage.glb"):
        load_mesh(garbage, "thing")
    with pytest.raises(MeshError, match=r"does not exist"):
        load_mesh(tmp_path / "missing.obj", "thing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MeshError, match=r"no mesh files"):
        scan_mesh_folder(tmp_path / "empty")
    with pytest.raises(MeshError, match=r"does not exist"):
        scan_mesh_folder(tmp_path / "nowhere")
