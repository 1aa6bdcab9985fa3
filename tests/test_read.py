"""Torch Datasets over built folders and real turntable sets; HF imagefolder compatibility."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vantage.data import (
    DatasetError,
    ImageTextDataset,
    MultiViewDataset,
    ObjectGroupDataset,
    TripletDataset,
    TurntableDataset,
    hf_data_files,
    load_records,
    ssl_augmentation,
)
from vantage.geometry import angle_between


def test_multiview_filters_and_labels(small_dataset):
    ds = MultiViewDataset(small_dataset, split="test", view_set="fib100", with_depth=True, with_mask=True)
    assert len(ds) == (3 + 2) * 100  # 3 in-domain test objects + 2 out-of-domain objects
    assert len(MultiViewDataset(small_dataset, split="test", view_set="fib100", domain="in")) == 300
    assert ds.classes == ["airplane", "car", "chair", "guitar", "mug"]
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["image"].min() >= 0.0 and item["image"].max() <= 1.0
    assert item["depth"].shape == (32, 32) and item["mask"].dtype == torch.bool
    torch.testing.assert_close(item["mask"], item["depth"] > 0)
    assert ds.classes[item["label"]] == ds.records[0].category
    ood = MultiViewDataset(small_dataset, domain="out", view_set="fib50", with_mask=True, with_depth=True)
    assert {ood.classes[ood[i]["label"]] for i in range(0, len(ood), 50)} == {"guitar", "mug"}
    assert ood.records[0].mask_file is None  # derived from depth
    derived = ood[3]
    assert derived["mask"].any() and torch.equal(derived["mask"], derived["depth"] > 0)
    cats = MultiViewDataset(small_dataset, category=["car", "mug"])
    assert {r.category for r in cats.records} == {"car", "mug"}
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert batch["image"].shape == (8, 3, 32, 32) and batch["cam_to_world"].shape == (8, 4, 4)
    assert len(batch["object_id"]) == 8


def test_multiview_errors(small_dataset):
    with pytest.raises(DatasetError, match=r"no rows"):
        MultiViewDataset(small_dataset, split="test", view_set="triplet")
    with pytest.raises(DatasetError, match=r"depth requested"):
        MultiViewDataset(small_dataset, split="train", with_depth=True)
    with pytest.raises(DatasetError, match=r"not a built vantage dataset"):
        MultiViewDataset(small_dataset / "images")


def test_corrupt_image_is_named_on_read(small_dataset, tmp_path):
    out = tmp_path / "d"
    shutil.copytree(small_dataset, out)
    ds = MultiViewDataset(out, split="val")
    (out / ds.records[0].file_name).write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DatasetError, match=ds.records[0].file_name.replace("/", ".")):
        ds[0]


def test_triplets(small_dataset):
    ds = TripletDataset(small_dataset, augment=ssl_augmentation(32))
    assert len(ds) == 3 * 3  # 3 train objects x 3 triplets
    item = ds[4]
    for key in ("left", "centre", "right", "centre_aug1", "centre_aug2"):
        assert item[key].shape == (3, 32, 32)
    d = item["directions"].double().numpy()
    assert np.isclose(angle_between(d[0], d[1]), 10.0, atol=0.01)
    assert np.isclose(angle_between(d[1], d[2]), 10.0, atol=0.01)
    single = MultiViewDataset(small_dataset, split="train", view_set="triplet")
    centre = next(
        i for i, r in enumerate(single.records) if r.object_id == item["object_id"] and r.view_id == item["view_id"]
    )
    torch.testing.assert_close(single[centre]["image"], item["centre"])  # the triplet itself is unaugmented
    assert not torch.equal(item["centre_aug1"], item["centre"])


def test_object_groups(small_dataset):
    ds = ObjectGroupDataset(small_dataset, k=4, split="train", view_set="fib50", seed=3)
    a = ds[1]
    assert a["images"].shape == (4, 3, 32, 32) and len(set(a["view_ids"].tolist())) == 4
    torch.testing.assert_close(ds[1]["view_ids"], a["view_ids"])
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["view_ids"], a["view_ids"])
    with pytest.raises(DatasetError, match=r"k=60"):
        ObjectGroupDataset(small_dataset, k=60, split="train", view_set="fib50")


def test_image_text_pairs(small_dataset):
    ds = ImageTextDataset(small_dataset, split="train", view_set="canonical")
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and ds.records[0].category in item["caption"]
    viewed = ImageTextDataset(small_dataset, split="train", view_set="canonical", caption_field="view_caption")
    assert "seen from the front" in viewed[0]["caption"]  # canonical views are near-front


def test_huggingface_imagefolder_reads_a_built_dataset(small_dataset):
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("imagefolder", data_files=hf_data_files(small_dataset), split="train")
    rows = load_records(small_dataset)
    assert len(ds) == len(rows)
    first = ds[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size == (32, 32)
    assert {"object_id", "category", "split", "view_set", "azimuth_deg", "cam_to_world"} <= set(ds.column_names)
    assert sorted(ds["object_id"]) == sorted(r.object_id for r in rows)


def test_turntable_folders(real_turntables):
    for root in real_turntables:  # the rendered folder, and COIL-20 (20 x 72 at 128 px) where it exists
        ds = TurntableDataset(root)
        n_obj, poses = (20, 72) if len(ds) == 1440 else (6, 12)
        assert len(ds) == n_obj * poses and len(ds.classes) == n_obj and ds.classes[:3] == ["obj1", "obj2", "obj3"]
        item = ds[poses + 3]  # obj2, pose 3
        assert item["object_id"] == "obj2" and item["view_id"] == 3 and item["azimuth"] == 3 * 360 / poses
        assert np.isnan(item["elevation"]) and item["image"].shape[0] == 3
        assert ds.records[poses + 3].domain == "real" and ds.records[poses + 3].view_set == "turntable"
        sub = TurntableDataset(root, objects=["obj5"])
        assert len(sub) == poses and sorted(r.azimuth_deg for r in sub.records)[-1] == 360 - 360 / poses


def test_turntable_folder_without_labels(tmp_path):
    for obj in ("cup", "box"):
        for pose in range(4):
            Image.fromarray(np.full((8, 8), pose * 60, np.uint8)).save(tmp_path / f"{obj}__{pose}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    ds = TurntableDataset(tmp_path)
    assert ds.classes == ["box", "cup"] and len(ds) == 8
    assert [r.azimuth_deg for r in ds.records[:4]] == [0.0, 90.0, 180.0, 270.0]
    with pytest.raises(DatasetError, match=r"no images named"):
        TurntableDataset(tmp_path / "..")
