"""timm backbones: the small-input stem, named taps, compression, local checkpoints."""

from __future__ import annotations

import pytest
import torch

from vantage.models import FeatureExtractor, compress_tap, create_backbone


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return FeatureExtractor(create_backbone("resnet18", stem="cifar")).eval()


def test_resnet_taps_at_32_px(resnet):
    assert {"pooled", "conv3", "conv4", "stage0"} <= set(resnet.tap_names)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        taps = resnet.taps(x, ["pooled", "conv3", "conv4"])
        pooled = resnet(x)
    assert taps["conv3"].shape == (2, 256, 8, 8) and taps["conv4"].shape == (2, 512, 4, 4)  # CIFAR stem: /4, /8
    torch.testing.assert_close(taps["pooled"], pooled)
    torch.testing.assert_close(taps["pooled"], taps["conv4"].mean((2, 3)))  # pooled = global average of conv4


def test_vit_block_taps():
    vit = FeatureExtractor(create_backbone("vit_tiny_patch16_224", img_size=32, patch_size=8)).eval()
    assert vit.tap_names[:3] == ["pooled", "block1", "block2"] and vit.tap_names[-1] == "block12"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        taps = vit.taps(x, ["block4", "pooled"])
        pooled = vit(x)
    assert taps["block4"].shape == (2, 192, 4, 4)
    torch.testing.assert_close(taps["pooled"], pooled)
    with pytest.raises(ValueError, match="unknown feature tap 'conv3'"):
        vit.taps(x, ["conv3"])


def test_compression(resnet):
    m = torch.randn(3, 256, 4, 4)
    flat = compress_tap(m, "flatten")
    assert flat.shape == (3, 4096)
    torch.testing.assert_close(flat.view(3, 256, 16).norm(dim=2), torch.ones(3, 256))
    assert compress_tap(m, "avg").shape == (3, 256)
    p1, p2 = compress_tap(m, "project", 128), compress_tap(m, "project", 128)
    assert p1.shape == (3, 128) and torch.equal(p1, p2)  # fixed projection
    d_full = torch.cdist(flat, flat)
    d_proj = torch.cdist(compress_tap(m, "project", 2048), compress_tap(m, "project", 2048))
    off = ~torch.eye(3, dtype=torch.bool)
    assert ((d_proj[off] / d_full[off]) - 1).abs().max() < 0.15  # distances roughly preserved
    pooled = torch.randn(3, 512)
    assert compress_tap(pooled) is pooled
    with pytest.raises(ValueError, match="flatten, avg or project"):
        compress_tap(m, "pca")


def test_local_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(1)
    a = create_backbone("resnet18", stem="cifar")
    torch.save(a.state_dict(), tmp_path / "plain.pt")
    torch.save({"state_dict": {f"backbone.model.{k}": v for k, v in a.state_dict().items()}}, tmp_path / "lit.ckpt")
    x = torch.randn(1, 3, 32, 32)
    for name in ("plain.pt", "lit.ckpt"):
        b = create_backbone("resnet18", stem="cifar", checkpoint=tmp_path / name)
        torch.testing.assert_close(a.eval()(x), b.eval()(x))
    with pytest.raises(ValueError, match="does not fit"):
        create_backbone("resnet34", stem="cifar", checkpoint=tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        create_backbone("resnet18", checkpoint=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="stem"):
        create_backbone("vit_tiny_patch16_224", stem="cifar")


def test_offline_pretrained_requests_fail_at_once_in_one_line(monkeypatch, tmp_path, vantage_main):
    """With the hub unreachable, timm and open_clip pretrained requests for weights not in the (empty) local
    cache raise one PretrainedUnavailable naming the model and the way to give local weights, without retrying."""
    import time

    from vantage.models import PretrainedUnavailable, create_clip, hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    start = time.perf_counter()
    with pytest.raises(PretrainedUnavailable, match=r"timm resnet50 .*--checkpoint PATH"):
        create_backbone("resnet50", pretrained=True)
    with pytest.raises(PretrainedUnavailable, match=r"open_clip ViT-B-32 \(openai\) .*local open_clip checkpoint"):
        create_clip("ViT-B-32", "openai")
    assert time.perf_counter() - start < 30
    code, _, err = vantage_main("eval", "pose-ssl", "--model", "resnet18", "--pretrained")
    assert code == 1 and err.count("\n") == 1 and "timm resnet18" in err and "Traceback" not in err
