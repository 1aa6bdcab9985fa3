"""Viewpoint-protocol classification with and without 3DTRL: training, exact resume, ImageFolder input, the three
test conditions and the pseudo-depth score, on small real rendered data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vantage.bench.curves import read_curve
from vantage.data import DatasetError
from vantage.eval import evaluate_classifier, evaluate_pseudo_depth, perspective_perturb, pseudo_depth_maps
from vantage.train import ClassifyTrainConfig, load_classifier, train_classify, train_seconds, train_view_filter

TINY = dict(
    model_kwargs={"patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2},
    image_size=16,
    batch_size=8,
    warmup_epochs=0,
    accelerator="cpu",
)


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_train_evaluate_and_score_depth(small_dataset, tmp_path):
    cfg = ClassifyTrainConfig(trl3d="improved", epochs=2, **TINY)
    ckpt = train_classify(cfg, small_dataset, tmp_path / "run", progress=False)
    model, loaded_cfg, classes = load_classifier(ckpt)
    assert classes == ["airplane", "car", "chair"] and loaded_cfg.trl3d == "improved"
    ev = evaluate_classifier(model, small_dataset, classes, 16, "canonical", None, seed=0)
    assert set(ev.top1) == {"seen_views", "unseen_poses", "perturbed"}
    assert all(0 <= v <= 100 for v in ev.top1.values())
    assert ev.n["unseen_poses"] == 3 * 100 and ev.per_view.shape == (100,) and ev.view_dirs.shape == (100, 3)
    curve = read_curve(tmp_path / "run")  # learning curve: loss and the val-object probes at cfg.curve_points steps
    assert curve["loss"] and {"val_seen_top1", "val_fib50_top1"} <= set(curve)
    assert all(0 <= v <= 100 for _, v in curve["val_fib50_top1"])
    depth = evaluate_pseudo_depth(model, small_dataset, 16, max_images=40, min_foreground=0.2)  # coarse 4x4 grid
    assert -1 <= depth["spearman_mean"] <= 1 and 0 <= depth["abs_spearman_mean"] <= 1 and depth["images"] > 10
    assert depth["grid"] == [4, 4]
    maps = pseudo_depth_maps(model, torch.rand(2, 3, 16, 16))
    assert maps.shape == (2, 4, 4) and (maps > 0).all()
    with pytest.raises(ValueError, match="in-domain categories"):
        evaluate_classifier(model, small_dataset, ["cat", "dog", "cow"], 16)


def test_interrupted_classification_resumes_exactly(small_dataset, tmp_path):
    cfg = ClassifyTrainConfig(trl3d="faithful", epochs=2, **TINY)
    full = train_classify(cfg, small_dataset, tmp_path / "a", progress=False)
    train_classify(cfg, small_dataset, tmp_path / "b", progress=False, stop_after=1)
    first_epoch = train_seconds(tmp_path / "b")
    resumed = train_classify(cfg, small_dataset, tmp_path / "b", progress=False)
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys() and any(k.startswith("model.trl3d.") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    both_epochs = train_seconds(tmp_path / "b")
    assert 0 < first_epoch < both_epochs  # the resumed run counts the epoch it did before the interruption
    train_classify(cfg, small_dataset, tmp_path / "b", progress=False)  # finished: nothing to train
    assert train_seconds(tmp_path / "b") == both_epochs and train_seconds(tmp_path / "never") == 0.0
    (tmp_path / "b" / "train_time.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"train_time.json is corrupt"):
        train_seconds(tmp_path / "b")


def test_upper_half_protocol_and_imagefolder(small_dataset, tmp_path):
    cfg = ClassifyTrainConfig(train_view_set="fib50", train_min_elevation=0.0, epochs=1, **TINY)
    keep = train_view_filter(cfg)
    assert keep is not None
    ckpt = train_classify(cfg, small_dataset, tmp_path / "upper", progress=False)
    model, mcfg, classes = load_classifier(ckpt)
    ev = evaluate_classifier(model, small_dataset, classes, 16, mcfg.train_view_set, train_view_filter(mcfg))
    assert ev.n["seen_views"] == 3 * 25  # the upper half of Fib(50) for the 3 test objects
    # any torchvision ImageFolder trains too
    rng = np.random.default_rng(0)
    for cls in ("ants", "bees"):
        (tmp_path / "folder" / "train" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
                tmp_path / "folder" / "train" / cls / f"{i}.png"
            )
    ckpt = train_classify(ClassifyTrainConfig(epochs=1, **TINY), tmp_path / "folder", tmp_path / "f", progress=False)
    assert load_classifier(ckpt)[2] == ["ants", "bees"]
    with pytest.raises(FileNotFoundError, match="ImageFolder"):
        train_classify(ClassifyTrainConfig(**TINY), tmp_path / "nothing", tmp_path / "g", progress=False)


def test_perspective_perturbation_is_seeded_and_fills_black():
    imgs = torch.rand(4, 3, 32, 32) * 0.5 + 0.5  # no black pixels before the warp
    a, b = perspective_perturb(imgs, 0.5, seed=3), perspective_perturb(imgs, 0.5, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, perspective_perturb(imgs, 0.5, seed=4))
    assert ((a == 0).all(1)).any() and not torch.allclose(a, imgs)


class _ChannelOracle(torch.nn.Module):
    """Logits = mean red and mean blue: reads the class the test images encode in their colour."""

    def forward(self, x):
        return torch.stack([x[:, 0].mean((1, 2)), x[:, 2].mean((1, 2))], 1)


def test_imagefolder_evaluation_oracles_and_cli(tmp_path):
    from conftest import run_cli
    from vantage.eval import evaluate_imagefolder

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c, cls in enumerate(("ants", "bees")):
            (tmp_path / "f" / split / cls).mkdir(parents=True)
            for i in range(5):
                img = rng.integers(0, 60, (24, 24, 3), dtype=np.uint8)
                img[..., 2 * c] += 150  # ants red, bees blue
                Image.fromarray(img).save(tmp_path / "f" / split / cls / f"{i}.png")
    res = evaluate_imagefolder(_ChannelOracle(), tmp_path / "f", ["ants", "bees"], 16)
    assert res == {"top1": {"test": 100.0}, "n": {"test": 10}}
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
    with torch.no_grad():
        constant(torch.zeros(1, 3, 16, 16))
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.tensor([1.0, 0.0]))
    assert evaluate_imagefolder(constant, tmp_path / "f", ["ants", "bees"], 16)["top1"]["test"] == 50.0
    with pytest.raises(DatasetError, match=r"class folder\(s\) \['bees'\] are not among"):
        evaluate_imagefolder(constant, tmp_path / "f", ["ants", "wasps"], 16)
    ckpt = train_classify(ClassifyTrainConfig(epochs=1, **TINY), tmp_path / "f", tmp_path / "run", progress=False)
    res = run_cli("eval", "classify", "--checkpoint", str(ckpt), "--data", str(tmp_path / "f"), "--out",
                  str(tmp_path / "e.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "e.json").read_text())
    assert saved["n"] == {"test": 10} and 0 <= saved["top1"]["test"] <= 100 and "wrote" in res.stdout


def test_real_set_classification_oracles_and_cli(tmp_path):
    """A real photo set imported with a category column is scored per azimuth bin; oracles bound the number."""
    from conftest import run_cli
    from vantage.data import import_dataset
    from vantage.eval import evaluate_real_classification

    rng = np.random.default_rng(2)
    (tmp_path / "photos").mkdir()
    lines = ["file,object_id,category,azimuth_deg"]
    for c, cls in enumerate(("ants", "bees", "wasps")):
        for i in range(8):
            img = rng.integers(0, 60, (24, 24, 3), dtype=np.uint8)
            img[..., min(2 * c, 2)] += 150
            Image.fromarray(img).save(tmp_path / "photos" / f"{cls}{i}.png")
            lines.append(f"{cls}{i}.png,{cls}-obj,{cls},{45 * i}")
    (tmp_path / "photos" / "views.csv").write_text("\n".join(lines) + "\n")
    import_dataset(tmp_path / "photos", tmp_path / "real", table=tmp_path / "photos" / "views.csv")
    real = {"photos": tmp_path / "real"}
    res = evaluate_real_classification(_ChannelOracle(), real, ["ants", "bees"], 16)["photos"]
    assert res["top1"] == 100.0 and res["n"] == 16 and res["skipped_rows"] == 8  # wasps are not a class
    assert res["per_azimuth"] == {f"{45 * b:g}-{45 * (b + 1):g}": 100.0 for b in range(8)}
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
    with torch.no_grad():
        constant(torch.zeros(1, 3, 16, 16))
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.tensor([0.0, 1.0]))
    assert evaluate_real_classification(constant, real, ["ants", "bees"], 16)["photos"]["top1"] == 50.0
    with pytest.raises(DatasetError, match="none of its categories"):
        evaluate_real_classification(constant, real, ["cats", "dogs"], 16)
    for split in ("train", "test"):  # an ImageFolder to train a real classifier on, then the CLI
        for cls in ("ants", "bees"):
            (tmp_path / "f" / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.open(tmp_path / "photos" / f"{cls}{i}.png").save(tmp_path / "f" / split / cls / f"{i}.png")
    ckpt = train_classify(ClassifyTrainConfig(epochs=1, **TINY), tmp_path / "f", tmp_path / "run", progress=False)
    res = run_cli("eval", "classify", "--checkpoint", str(ckpt), "--data", str(tmp_path / "f"), "--real",
                  f"photos={tmp_path / 'real'}", "--out", str(tmp_path / "e.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "e.json").read_text())["real"]["photos"]
    assert saved["n"] == 16 and 0 <= saved["top1"] <= 100 and len(saved["per_azimuth"]) == 8


def test_compiled_training_keeps_checkpoint_keys_and_numbers(small_dataset, tmp_path):
    """`compile: true` trains the same network (in place: the checkpoint's keys are unchanged and it loads back);
    its weights match an eager run's up to float rounding."""
    eager = ClassifyTrainConfig(epochs=1, curve_points=0, **TINY)
    compiled = ClassifyTrainConfig(epochs=1, curve_points=0, compile=True, **TINY)
    a = _weights(train_classify(eager, small_dataset, tmp_path / "eager", progress=False))
    b = _weights(train_classify(compiled, small_dataset, tmp_path / "compiled", progress=False))
    assert a.keys() == b.keys() and not any("_orig_mod" in k for k in b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4)
    model, cfg, _ = load_classifier(tmp_path / "compiled" / "checkpoints" / "last.ckpt")
    assert cfg.compile and model(torch.rand(2, 3, 16, 16)).shape == (2, 3)
