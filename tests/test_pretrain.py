"""Pretraining at home: vantage-made ViT starts (cached by recipe and architecture), the TimeSformer's start from a
ViT, and the input-normalisation fold that lets [0, 1]-trained weights read ImageNet-normalised clips."""

from __future__ import annotations

import shutil

import pytest
import timm
import torch

from vantage.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from vantage.models import create_timesformer, timesformer_from_vit, timesformer_vit_shape
from vantage.train import HOME_RECIPES, HomeRecipe, home_encoder_state
from vantage.train.action import ActionTrainConfig, build_action_model
from vantage.train.align import AlignTrainConfig, build_align_encoder
from vantage.train.pretrain import fold_input_norm

VIT = {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}


def _vit(**kw) -> torch.nn.Module:
    return timm.create_model("deit_tiny_patch16_224", num_classes=0, img_size=32, **{**VIT, **kw}).eval()


def test_timesformer_started_from_a_vit_is_that_vit_on_one_frame():
    model = create_timesformer(9, 1, 32, {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                          "intermediate_size": 64}).eval()  # fmt: skip
    shape = timesformer_vit_shape(model)
    assert shape == {**VIT, "mlp_ratio": 2, "qkv_bias": True}
    vit = _vit(mlp_ratio=2)
    timesformer_from_vit(model, vit.state_dict())
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        video = model.timesformer(x[:, None]).last_hidden_state[:, 0]
        image = vit.forward_features(x)[:, 0]
    torch.testing.assert_close(video, image, atol=1e-5, rtol=0)
    assert all(not torch.count_nonzero(layer.temporal_dense.weight) for layer in model.timesformer.encoder.layer)


def test_timesformer_from_a_vit_of_another_shape_is_one_error():
    model = create_timesformer(9, 2, 32)
    with pytest.raises(ValueError, match="has no place"):
        timesformer_from_vit(model, _vit().state_dict())


def test_folded_weights_read_normalised_inputs_exactly():
    vit = _vit()
    folded = _vit()
    folded.load_state_dict(fold_input_norm(vit.state_dict(), IMAGENET_MEAN, IMAGENET_STD))
    x = torch.rand(2, 3, 32, 32)
    m, s = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(folded((x - m) / s), vit(x), atol=1e-5, rtol=1e-5)


@pytest.fixture
def test_recipe(small_dataset, monkeypatch):
    """A one-epoch recipe on the small rendered dataset."""
    monkeypatch.setitem(HOME_RECIPES, "test", HomeRecipe(data=str(small_dataset), epochs=1, batch_size=32))
    return "vantage:test"


def test_home_encoder_is_built_once_then_cached_and_starts_the_models(test_recipe, tmp_path):
    state = home_encoder_state(test_recipe, "deit_tiny_patch16_224", VIT, 32, progress=False)
    fresh = _vit().state_dict()
    assert set(state) == set(fresh)  # the encoder without its classifier
    assert any(not torch.equal(state[k], fresh[k]) for k in state)
    from vantage.io import vantage_home

    (folder,) = (vantage_home() / "pretrained").glob("test-*")
    stamp = (folder / "encoder.pt").stat().st_mtime_ns
    again = home_encoder_state(test_recipe, "deit_tiny_patch16_224", VIT, 32, progress=False)
    assert (folder / "encoder.pt").stat().st_mtime_ns == stamp and (folder / "card.json").is_file()
    assert all(torch.equal(state[k], again[k]) for k in state)
    assert not list(folder.glob("**/*.tmp*")) and not (folder / ".vantage.lock").exists()

    folded = fold_input_norm(state, IMAGENET_MEAN, IMAGENET_STD)
    enc = build_align_encoder(AlignTrainConfig(model_kwargs=VIT, pretrained=test_recipe, trl3d="improved"))
    assert all(torch.equal(enc.state_dict()[k], v) for k, v in folded.items())

    frame = build_action_model(ActionTrainConfig(arch="frame", frame_model_kwargs=VIT, pretrained=test_recipe), 9)
    assert torch.equal(frame.encoder.pos_embed, state["pos_embed"])
    tsf = build_action_model(
        ActionTrainConfig(
            pretrained=test_recipe,
            timesformer={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
        ),
        9,
    )
    layer = tsf.timesformer.encoder.layer[1]
    assert torch.equal(layer.attention.attention.qkv.weight, state["blocks.1.attn.qkv.weight"])


def test_bad_home_starts_are_one_clear_error():
    with pytest.raises(ValueError, match="unknown home pretraining 'vantage:nope'"):
        home_encoder_state("vantage:nope", "deit_tiny_patch16_224", VIT, 32)
    with pytest.raises(ValueError, match="frame arch takes a vantage"):
        ActionTrainConfig(arch="frame", pretrained="facebook/timesformer-base-finetuned-k400")
    with pytest.raises(ValueError, match="pretrained must be true, false or vantage"):
        AlignTrainConfig(pretrained="imagenet")


def test_action_bench_sets_starts_side_by_side():
    """The first start is the one the findings read; each other start adds its baselines (no 3DTRL) beside it."""
    from vantage.bench.methods.action import ActionBenchConfig, _rows

    b = ActionBenchConfig(variants=["timesformer", "timesformer_improved"], protocols=["cross_subject"],
                          starts=["scratch", "vantage:zoo"])  # fmt: skip
    rows = {r["key"]: r for r in _rows(b)}
    assert set(rows) == {"timesformer-cross_subject", "timesformer_improved-cross_subject",
                         "timesformer@zoo-cross_subject"}  # fmt: skip
    assert rows["timesformer-cross_subject"]["fields"]["pretrained"] is None
    assert rows["timesformer@zoo-cross_subject"]["fields"]["pretrained"] == "vantage:zoo"
    assert rows["timesformer@zoo-cross_subject"]["model"] == "TimeSformer, vantage:zoo start"
    assert rows["timesformer_improved-cross_subject"]["base"] == "timesformer-cross_subject"
    with pytest.raises(ValueError, match="distinct starts"):
        ActionBenchConfig(starts=["scratch", "scratch"])


def test_unknown_recipe_fails_in_the_config_and_a_corrupt_cache_names_its_file(test_recipe):
    with pytest.raises(ValueError, match="unknown home pretraining 'vantage:nope'"):
        AlignTrainConfig(pretrained="vantage:nope")
    with pytest.raises(ValueError, match="unknown home pretraining"):
        ActionTrainConfig(pretrained="vantage:nope")
    home_encoder_state(test_recipe, "deit_tiny_patch16_224", VIT, 32, progress=False)
    import json

    from vantage.io import vantage_home

    (folder,) = [f for f in (vantage_home() / "pretrained").glob("test-*")
                 if json.loads((f / "card.json").read_text())["arch"]["model_kwargs"] == VIT]  # fmt: skip
    (folder / "encoder.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"encoder\.pt is not readable home weights"):
        home_encoder_state(test_recipe, "deit_tiny_patch16_224", VIT, 32, progress=False)
    shutil.rmtree(folder)  # the next user of this recipe pretrains it again
