"""CLIP and Omniview-Tuning: parameter counts, open_clip round trip, mining, losses, batches, training, zero-shot."""

from __future__ import annotations

import json
import math

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from conftest import run_cli
from vantage.data import read_mvcap, write_mvcap
from vantage.data.schema import DatasetError
from vantage.eval.zeroshot import (
    SHIFTS_2D,
    ZeroShotConfig,
    coil20_retrieval,
    load_zeroshot_data,
    shift_2d,
    zeroshot_benchmark,
)
from vantage.losses import EMACentres, cross_view_loss, mine_outlier_views, mine_outlier_views_loop
from vantage.losses.cross_view import rank_within_group
from vantage.models import (
    OVTModel,
    VIFormer,
    VIFormerConfig,
    add_visual_lora,
    count_trainable,
    create_clip,
    get_clip_tokenizer,
    load_clip,
    save_clip,
)
from vantage.train.clip import ClipTrainConfig, MixedBatchSampler, OVTTrainConfig, train_clip, train_ovt


@pytest.mark.parametrize(
    ("name", "total", "lora"), [("ViT-B-32", 6_599_681, 294_912), ("ViT-L-14", 11_814_401, 786_432)]
)
def test_faithful_trainable_counts(name, total, lora):
    with torch.device("meta"):  # the architecture only: no weights are created or downloaded
        clip, cfg = create_clip(name, device="meta")
        add_visual_lora(clip, r=8, alpha=8)
        assert count_trainable(clip) == lora  # qkv of every visual block only; out_proj and text untouched
        model = OVTModel(clip, VIFormer(cfg["embed_dim"], VIFormerConfig()))
    assert count_trainable(model) == total  # VIFormer + LoRA + logit scale (the paper's 6.6M / 11.8M)
    assert all("visual" in n and "lora_" in n for n, p in clip.named_parameters() if p.requires_grad)


def _micro_ovt(mode: str = "faithful") -> tuple[OVTModel, dict]:
    torch.manual_seed(0)
    clip, cfg = create_clip("vantage-clip-micro")
    add_visual_lora(clip)
    for n, p in clip.named_parameters():
        if "lora_B" in n:  # peft starts B at zero; make the adapter change the weights
            torch.nn.init.normal_(p, std=0.05)
    return OVTModel(clip, VIFormer(cfg["embed_dim"], VIFormerConfig(mode=mode, ffn=64))).eval(), cfg


@pytest.mark.parametrize("mode", ["faithful", "improved"])
def test_saved_model_loads_in_plain_open_clip(tmp_path, mode):
    model, cfg = _micro_ovt(mode)
    folder = save_clip(model, cfg, tmp_path / "model")
    x = torch.rand(4, 3, 32, 32)
    plain, _, _ = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    plain.eval()
    with torch.no_grad():
        tower = model.clip.encode_image(x)  # LoRA applied through peft's wrapper
        assert torch.allclose(plain.encode_image(x), tower, atol=1e-5)  # merged weights, plain open_clip
        tokens = open_clip.get_tokenizer(f"local-dir:{folder}")(["a photo of a car."])
        assert torch.allclose(plain.encode_text(tokens), model.clip.encode_text(tokens), atol=1e-5)
        assert math.isclose(float(plain.logit_scale), float(model.logit_scale), rel_tol=1e-6)
        again, _ = load_clip(str(folder))  # vantage puts the VIFormer back on top
        assert torch.allclose(again.encode_image(x), model.encode_image(x), atol=1e-5)
    assert "lora" not in " ".join(torch.load(folder / "open_clip_pytorch_model.bin", weights_only=True))


def test_improved_viformer_is_identity_at_init_and_faithful_is_not():
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        for mode, identity in (("improved", True), ("faithful", False)):
            model, _ = _micro_ovt(mode)
            base = F.normalize(model.clip.encode_image(x), dim=-1)
            assert torch.allclose(model.encode_image(x), base, atol=1e-6) is identity


def _clusters(n_obj=30, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    obj = torch.randint(0, n_obj, (900,), generator=g)
    emb = torch.randn(900, dim, generator=g) + 3 * torch.randn(n_obj, dim, generator=g)[obj]
    return emb, obj


@pytest.mark.parametrize("chunk", [7, None])
@pytest.mark.parametrize("weighting", ["density", "inverse", "uniform"])
def test_vectorised_mining_matches_the_per_object_loop(weighting, chunk):
    emb, obj = _clusters()  # unequal view counts per object: exercises the padding
    obj[obj == 3] = 4  # object 3 has no views at all
    obj[(obj == 5).nonzero()[1:]] = 6  # object 5 has a single view
    fast = mine_outlier_views(emb, obj, k_nn=5, n_outliers=4, weighting=weighting, chunk=chunk)
    slow = mine_outlier_views_loop(emb, obj, k_nn=5, n_outliers=4, weighting=weighting)
    assert torch.allclose(fast.centres, slow.centres, atol=1e-5)
    assert torch.allclose(fast.weights, slow.weights, atol=1e-5)
    assert torch.allclose(fast.similarity, slow.similarity, atol=1e-5)
    assert torch.equal(fast.outlier, slow.outlier)
    per_obj = torch.bincount(obj[fast.outlier], minlength=30)
    assert torch.equal(per_obj, torch.bincount(obj, minlength=30).clamp(max=4))
    assert torch.equal(fast.centres[3], torch.zeros(16)) and fast.outlier[obj == 5].all()


def test_vectorised_mining_with_equal_view_counts_matches_the_loop():
    g = torch.Generator().manual_seed(2)
    obj = torch.arange(40).repeat_interleave(12)[torch.randperm(480, generator=g)]  # shuffled, as a loader yields
    emb = torch.randn(480, 32, generator=g) + 2 * torch.randn(40, 32, generator=g)[obj]
    fast, slow = mine_outlier_views(emb, obj, n_outliers=3), mine_outlier_views_loop(emb, obj, n_outliers=3)
    assert torch.allclose(fast.centres, slow.centres, atol=1e-5)
    assert torch.equal(fast.outlier, slow.outlier)


def test_mining_rejects_bad_input_with_named_arguments():
    emb, obj = _clusters()
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        mine_outlier_views(emb, obj, chunk=-1)  # would otherwise loop over nothing and return zeros
    with pytest.raises(ValueError, match="object_index must be >= 0, got -1"):
        mine_outlier_views(emb, torch.where(obj == 0, -1, obj))
    with pytest.raises(ValueError, match=r"integer object ids, got dtype torch\.float32"):
        mine_outlier_views_loop(emb, obj.float())
    with pytest.raises(ValueError, match="k_nn and n_outliers must be >= 1"):
        mine_outlier_views(emb, obj, n_outliers=0)


def test_density_weighting_favours_dense_views_and_outliers_are_the_farthest():
    dense = F.normalize(
        torch.tensor([[1.0, 0.0, 0.0]]) + 0.05 * torch.randn(9, 3, generator=torch.Generator().manual_seed(1)), dim=-1
    )
    stray = torch.tensor([[0.0, 1.0, 0.0]])
    emb, obj = torch.cat([dense, stray]), torch.zeros(10, dtype=torch.long)
    density = mine_outlier_views(emb, obj, k_nn=3, n_outliers=1, weighting="density")
    inverse = mine_outlier_views(emb, obj, k_nn=3, n_outliers=1, weighting="inverse")
    assert density.weights[9] < density.weights[:9].min()  # the paper: isolated views count less
    assert inverse.weights[9] > inverse.weights[:9].max()  # the reference code's weighting does the opposite
    assert density.outlier.nonzero().flatten().tolist() == [9]
    assert density.centres[0] @ torch.tensor([1.0, 0.0, 0.0]) > inverse.centres[0] @ torch.tensor([1.0, 0.0, 0.0])


def test_ema_centres_and_in_batch_outliers():
    assert rank_within_group(torch.tensor([3.0, 1.0, 2.0, 0.5, 7.0]), torch.tensor([1, 0, 1, 0, 1])).tolist() == [
        1,
        1,
        0,
        0,
        2,
    ]
    ema = EMACentres(2, 2, momentum=0.5)
    z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    ema.update(z, torch.tensor([0, 0, 1]))  # first sighting: the batch mean
    assert torch.allclose(ema.centres[1], torch.tensor([0.0, 1.0]))
    ema.update(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    assert torch.allclose(ema.centres[1], F.normalize(torch.tensor([0.5, 0.5]), dim=0))
    assert ema.outliers(z, torch.tensor([0, 0, 1]), k=1).tolist() == [False, True, True]


def test_cross_view_loss_margin_shifts_value_not_gradient():
    z = torch.randn(6, 4, requires_grad=True)
    c = F.normalize(torch.randn(6, 4), dim=-1)
    select = torch.tensor([True, False, True, True, False, False])
    grads = []
    for m in (0.0, 0.3):
        z.grad = None
        loss = cross_view_loss(z, c, select, margin=m)
        loss.backward()
        grads.append(z.grad.clone())
        expected = (1 - F.cosine_similarity(z, c)[select] + m).mean()
        assert torch.isclose(loss, expected)
    assert torch.allclose(grads[0], grads[1]) and grads[0][~select].abs().sum() == 0
    assert cross_view_loss(z, c, torch.zeros(6, dtype=torch.bool)).item() == 0.0


def test_mixed_batches_compose_and_are_keyed_by_epoch():
    objects = [i // 10 for i in range(60)]  # 6 objects x 10 views
    s = MixedBatchSampler(objects, n_clean=20, mv_per_batch=12, clean_per_batch=4, seed=3)
    first = list(s)
    assert len(first) == len(s) == 5 and all(len(b) == 16 for b in first)
    assert all(sum(i < 60 for _, i in b) == 12 for b in first)
    assert first == list(s)  # same epoch, same batches
    s.set_epoch(1)
    assert first != list(s)
    aware = MixedBatchSampler(objects, n_clean=0, mv_per_batch=12, clean_per_batch=0, views_per_object=4)
    for batch in aware:
        ids = [objects[i] for _, i in batch]
        assert len(ids) == 12 and all(ids.count(o) % 4 == 0 for o in set(ids))  # whole groups of 4 views


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="variant"):
        OVTTrainConfig(variant="bogus")
    with pytest.raises(TypeError, match="nope"):
        OVTTrainConfig(viformer={"nope": 1})
    with pytest.raises(ValueError, match="views_per_object"):
        OVTTrainConfig(batch_size=10, views_per_object=4)


def test_captions_round_trip_and_bad_rows(small_dataset, tmp_path):
    path = write_mvcap(small_dataset, tmp_path / "mv.json", view_set="fib50")
    rows = read_mvcap(path)
    assert len(rows) == 3 * 50 and all(r.path.is_file() for r in rows)
    assert all(r.category in r.caption for r in rows)  # category-guided captions
    assert len({r.obj_id for r in rows}) == 3 and len({r.img_id for r in rows}) == 150
    custom = write_mvcap(
        small_dataset, tmp_path / "c.json", view_set="canonical", captioner=lambda p, r: f"{r.category} {p.stem}"
    )
    assert {r.caption.split()[0] for r in read_mvcap(custom)} <= {"airplane", "car", "chair"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"path": "x.png", "caption": "a car", "obj_id": "o"}]))
    with pytest.raises(DatasetError, match=r"bad.json: row 0 lacks field\(s\) \['img_id'\]"):
        read_mvcap(bad)


def test_shifts_and_retrieval_are_what_they_say():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 16, 16, generator=g)
    mask = torch.zeros(4, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    grey = shift_2d(images, "greyscale")
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    moved = shift_2d(images, "background", mask, seed=1)
    assert torch.equal(moved[..., 4:12, 4:12], images[..., 4:12, 4:12]) and not torch.equal(moved, images)
    assert shift_2d(images, "blur").std() < images.std()
    sketch = shift_2d(torch.zeros(1, 3, 16, 16), "sketch")
    assert torch.equal(sketch, torch.ones_like(sketch))  # no edges: blank paper
    for kind in SHIFTS_2D:
        out = shift_2d(images, kind, mask)
        assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    obj = torch.arange(3).repeat_interleave(8)
    az = torch.arange(8).repeat(3) * 45.0
    identity = F.normalize(F.one_hot(obj, 3).float() + 0.01 * torch.randn(24, 3, generator=g), dim=-1)
    assert coil20_retrieval(identity, obj, az, [0, 90, 180])["top1"] == 1.0
    shuffled = coil20_retrieval(F.normalize(torch.randn(24, 3, generator=g), dim=-1), obj, az, [0, 90, 180])
    assert 0 <= shuffled["top1"] < 1


def test_train_clip_then_ovt_resumes_exactly_and_evaluates(small_dataset, tmp_path, turntable):
    base_cfg = ClipTrainConfig(model="vantage-clip-micro", epochs=2, batch_size=16, warmup_epochs=0)
    base = train_clip(base_cfg, small_dataset, tmp_path / "base", progress=False)
    assert (base / "open_clip_config.json").is_file() and not (base / "vantage_ovt.pt").exists()
    cfg = OVTTrainConfig(base=str(base), variant="faithful", epochs=2, batch_size=24, clean_batch_size=6,
                         viformer={"ffn": 64}, n_outliers=3)  # fmt: skip
    whole = train_ovt(cfg, small_dataset, tmp_path / "whole", progress=False)
    train_ovt(cfg, small_dataset, tmp_path / "split", progress=False, stop_after=1)
    split = train_ovt(cfg, small_dataset, tmp_path / "split", progress=False)
    a = torch.load(whole / "open_clip_pytorch_model.bin", weights_only=True)
    b = torch.load(split / "open_clip_pytorch_model.bin", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)  # an interrupted run ends where an uninterrupted one does
    ref = torch.load(base / "open_clip_pytorch_model.bin", weights_only=True)
    changed = [k for k in a if not torch.equal(a[k], ref[k])]
    assert changed and all(("visual" in k and "in_proj_weight" in k) or k == "logit_scale" for k in changed)
    logs = (tmp_path / "whole" / "logs" / "version_0" / "metrics.csv").read_text()
    assert "train/loss_vc" in logs and "train/outliers" in logs
    zs_cfg = ZeroShotConfig(templates="simple")
    data = load_zeroshot_data(small_dataset, 32, zs_cfg, turntable)
    model, _ = load_clip(str(split))
    result = zeroshot_benchmark(model, get_clip_tokenizer(str(split)), data, zs_cfg)
    expected = {"clean", *SHIFTS_2D, "sphere", "worst_view", "coil20_retrieval"}
    assert set(result["sets"]) == expected
    assert all(0 <= v["top1"] <= v.get("top5", 100) <= 100 for v in result["sets"].values())
    assert set(result["groups"]) == {"clean", "2d_shift", "viewpoint", "real"}
    assert len(result["per_view"]) == 100 and np.asarray(result["view_dirs"]).shape == (100, 3)
    # The worst view over all candidates can never beat the per-image accuracy on any candidate subset.
    assert result["sets"]["worst_view"]["top1"] <= min(
        result["sets"]["clean"]["top1"], result["sets"]["sphere"]["top1"]
    )
    res = run_cli("eval", "zeroshot", "--model", str(split), "--data", str(small_dataset), "--no-coil20", "--set",
                  "templates=simple", "--out", str(tmp_path / "zs.json"), "--real", f"turn={turntable}")  # fmt: skip
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "zs.json").read_text())
    assert saved["sets"]["clean"] == result["sets"]["clean"]
    assert saved["sets"]["turn_retrieval"] == result["sets"]["coil20_retrieval"]  # the same folder under its name
    assert "real" in saved["groups"] and "coil20_retrieval" not in saved["sets"]
    # The train commands pass the preset, their options and --set through (options over preset, --set last).
    res = run_cli("train", "clip", "--model", "vantage-clip-micro", "--preset", "quick", "--epochs", "1", "--seed", "3",
                  "--set", "batch_size=16", "--data", str(small_dataset), "--out", str(tmp_path / "cli-base"),
                  "-q")  # fmt: skip
    assert res.returncode == 0 and "model:" in res.stdout, res.stderr
    hp = torch.load(tmp_path / "cli-base" / "checkpoints" / "last.ckpt", weights_only=False)["hyper_parameters"]
    got = (hp["cfg"]["model"], hp["cfg"]["epochs"], hp["cfg"]["seed"], hp["cfg"]["batch_size"])
    assert got == ("vantage-clip-micro", 1, 3, 16)
    res = run_cli("train", "ovt", "--base", str(tmp_path / "cli-base" / "model"), "--variant", "improved", "--preset",
                  "quick", "--epochs", "1", "--set", "batch_size=24", "--set", "clean_batch_size=6", "--data",
                  str(small_dataset), "--out", str(tmp_path / "cli-ovt"), "-q")  # fmt: skip
    assert res.returncode == 0 and (tmp_path / "cli-ovt" / "model" / "vantage_ovt.pt").is_file(), res.stderr
    hp = torch.load(tmp_path / "cli-ovt" / "checkpoints" / "last.ckpt", weights_only=False)["hyper_parameters"]
    assert (hp["cfg"]["variant"], hp["cfg"]["epochs"], hp["cfg"]["clean_batch_size"]) == ("improved", 1, 6)


def test_cli_captions_and_clip_bad_input(small_dataset, tmp_path):
    res = run_cli("data", "captions", str(small_dataset), "--view-set", "canonical", "--out", str(tmp_path / "m.json"))
    assert res.returncode == 0, res.stderr
    assert len(read_mvcap(tmp_path / "m.json")) == 3 * 3
    res = run_cli("data", "captions", str(small_dataset), "--captioner", "nosuchmodule:fn")
    assert res.returncode == 1 and "nosuchmodule" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("eval", "zeroshot", "--model", "no-such-clip", "--data", str(small_dataset))
    assert res.returncode == 1 and "unknown CLIP model 'no-such-clip'" in res.stderr
    res = run_cli("train", "ovt", "--base", "vantage-clip-micro", "--variant", "huge", "--data", str(small_dataset))
    assert res.returncode == 1 and "variant" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", "clip", "--model", "ViT-B-32", "--pretrained", str(tmp_path / "none.pt"), "--data",
                  str(small_dataset), "--out", str(tmp_path / "c"))  # fmt: skip
    assert res.returncode == 1 and "none.pt" in res.stderr and "neither a known tag" in res.stderr


def test_a_clip_built_from_scratch_logs_no_warning(caplog):
    import logging

    from vantage.models import create_clip

    with caplog.at_level(logging.WARNING):
        create_clip("vantage-clip-micro")
    assert not [r for r in caplog.records if "No pretrained weights" in r.getMessage()]
    assert logging.getLogger().level == logging.WARNING  # the root level is restored
