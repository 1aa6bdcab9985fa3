"""`vantage eval encoder`: report cards for a timm model, an open_clip model, a Hugging Face model and a vantage
checkpoint in one command, the leaderboard over them, the encoder wrappers' oracles and bad specs."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from vantage.bench import resolve_encoder
from vantage.config import ConfigError
from vantage.models import PooledEncoder


def _tiny_hf_vit(folder):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64)  # fmt: skip
    ViTModel(cfg).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)


def test_pooled_encoder_resizes_normalises_and_has_one_tap():
    seen = {}

    def encode(net, x):
        seen["x"] = x
        return x.mean((2, 3))

    enc = PooledEncoder(torch.nn.Identity(), encode, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 8, 3)
    out = enc.taps(torch.full((2, 3, 16, 16), 0.75), ["pooled"])["pooled"]
    assert seen["x"].shape == (2, 3, 8, 8) and torch.allclose(out, torch.ones(2, 3))
    with pytest.raises(ValueError, match="block2"):
        enc.check_taps(["block2"])
    with pytest.raises(ConfigError, match="expected timm:NAME"):
        resolve_encoder("resnet18")


def test_report_cards_for_four_kinds_of_encoder(small_dataset, turntable, tmp_path):
    ssl_run = tmp_path / "ssl"
    tiny = ["--set", "image_size=16", "--set", "proj_dim=32", "--set", "hidden_dim=32", "-q"]
    res = run_cli("train", "ssl", "--data", str(small_dataset), "--out", str(ssl_run), "--preset", "quick",
                  "--epochs", "1", *tiny)  # fmt: skip
    assert res.returncode == 0, res.stderr
    _tiny_hf_vit(tmp_path / "vit")
    out = tmp_path / "cards"
    specs = ["timm:resnet18", "clip:vantage-clip-micro", f"hf:{tmp_path / 'vit'}",
             f"ckpt:{ssl_run / 'checkpoints' / 'last.ckpt'}"]  # fmt: skip
    args = ["eval", "encoder", *(a for s in specs for a in ("--encoder", s)), "--data", str(small_dataset),
            "--preset", "quick", "--no-coil20", "--real", f"turn={turntable}", "--out", str(out), "-q",
            "--set", "linear_steps=20", "--set", "pair_steps=20"]  # fmt: skip
    res = run_cli(*args, timeout=600)
    assert res.returncode == 0, res.stderr
    board = json.loads((out / "leaderboard.json").read_text())
    assert sorted(r["encoder"] for r in board["rows"]) == sorted(specs)
    assert "turn rel az" in board["columns"] and (out / "leaderboard.html").is_file()
    for row in board["rows"]:
        card = json.loads((out / row["folder"] / "card.json").read_text())
        pooled = card["table"]["pooled"]
        assert 0 <= pooled["semantics"]["knn_worst_view_top1"] <= pooled["semantics"]["knn_top1"] <= 100
        assert "turn" in pooled and (out / row["folder"] / "sphere.png").is_file()
        assert ("zeroshot" in card) == row["encoder"].startswith("clip:")
        assert "<img" in (out / row["folder"] / "card.html").read_text()
    clip_row = next(r for r in board["rows"] if r["encoder"].startswith("clip:"))
    assert clip_row["zero-shot clean"] is not None
    # another encoder later joins the same leaderboard; nothing is overwritten
    res = run_cli("eval", "encoder", "--encoder", "timm:resnet10t", "--data", str(small_dataset), "--preset",
                  "quick", "--no-coil20", "--out", str(out), "-q", "--set", "linear_steps=20", "--set",
                  "pair_steps=20")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert len(json.loads((out / "leaderboard.json").read_text())["rows"]) == 5
    res = run_cli("eval", "encoder", "--encoder", "hf:/no/such/model", "--data", str(small_dataset))
    assert res.returncode == 1 and "no config.json" in res.stderr and "Traceback" not in res.stderr
