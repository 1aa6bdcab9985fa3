"""The LLaVA-style VLM on CLIP towers: tower conversion parity, deterministic generation (greedy, sampled, with and
without the KV cache), save / load, tower swaps, an oracle tower and a constant one, the CLI and bad input."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling

from conftest import run_cli
from vantage.eval.vlm import VLMEvalConfig, category_hits, generate
from vantage.models.clip import add_visual_lora, create_clip
from vantage.models.vlm import build_llava, convert_open_clip_tower, load_vlm, save_vlm, swap_tower, train_bpe_tokenizer
from vantage.train.vlm import VLMTrainConfig, _pairs, _stage, _train_rows, vlm_corpus

LM = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_key_value_heads": 2}


def _reference_hidden(visual: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    h = visual._embeds(x)
    out = [h]
    for block in visual.transformer.resblocks:
        h = block(h)
        out.append(h)
    return out, visual.ln_post(h)[:, 0]


@pytest.mark.parametrize("name", ["vantage-clip-tiny", "ViT-B-32"])
def test_converted_tower_equals_open_clip(name):
    """Hidden states of every block and the pooled output of the HF CLIPVisionModel equal open_clip's tower (LoRA
    merged into qkv for the tiny one, with non-zero adapters) to 1e-5."""
    torch.manual_seed(0)
    clip, _ = create_clip(name)
    clip.eval()
    if name == "vantage-clip-tiny":
        add_visual_lora(clip, r=4)
        for n, p in clip.visual.named_parameters():
            if "lora_B" in n:
                nn.init.normal_(p, std=0.1)
    tower = convert_open_clip_tower(clip)
    size = tower.config.image_size
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = tower(pixel_values=x, output_hidden_states=True)
        ref, pooled = _reference_hidden(clip.visual, x)
        embedding = clip.encode_image(x)
    assert len(out.hidden_states) == len(ref)
    assert max((a - b).abs().max().item() for a, b in zip(out.hidden_states, ref, strict=True)) < 1e-5
    assert (out.pooler_output - pooled).abs().max().item() < 1e-5
    assert (out.pooler_output @ clip.visual.proj - embedding).abs().max().item() < 1e-5


@pytest.fixture(scope="module")
def tiny_vlm():
    torch.manual_seed(0)
    classes = ["airplane", "car", "chair"]
    captions = [f"a photo of a {c}." for c in classes]
    tok = train_bpe_tokenizer(vlm_corpus(classes, captions), 256)
    clip, _ = create_clip("vantage-clip-micro")
    return build_llava(convert_open_clip_tower(clip), tok, LM, seed=0), tok, clip


def test_generation_is_deterministic_and_a_saved_vlm_gives_the_same(tiny_vlm, tmp_path):
    model, tok, _ = tiny_vlm
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    greedy = generate(model, tok, images, "Describe the image.")
    assert greedy == generate(model, tok, images, "Describe the image.")
    assert greedy == generate(model, tok, images, "Describe the image.", use_cache=False)  # the cache changes nothing
    sampled = VLMEvalConfig(sample=True, temperature=1.5, seed=3)
    assert generate(model, tok, images, "Describe the image.", sampled) == \
        generate(model, tok, images, "Describe the image.", sampled)  # fmt: skip
    save_vlm(model, tok, tmp_path / "vlm")
    again, tok2 = load_vlm(tmp_path / "vlm")
    assert generate(again, tok2, images, "Describe the image.") == greedy
    assert json.loads((tmp_path / "vlm" / "config.json").read_text())["model_type"] == "llava"


def test_a_tower_swap_changes_only_the_vision_tower(tiny_vlm):
    model, _, _ = tiny_vlm
    other, _ = create_clip("vantage-clip-micro")
    with torch.no_grad():
        for p in other.visual.parameters():
            p.add_(0.01)
    swapped = swap_tower(model, convert_open_clip_tower(other))
    before, after = model.state_dict(), swapped.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    tower_weights = {k for k in before if "vision_tower" in k and before[k].is_floating_point()}
    assert changed == tower_weights  # every tower weight, and nothing else (projector, LM, head untouched)


class _Oracle(nn.Module):
    """A vision tower whose every token is the one-hot label of the stored image nearest its input (a leak), or
    all zeros (constant)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: int, config, constant: bool = False):
        super().__init__()
        self.register_buffer("images", images.flatten(1))
        self.labels, self.classes, self.config, self.constant = labels, classes, config, constant

    def forward(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        idx = torch.cdist(pixel_values.flatten(1), self.images).argmin(1)
        n = (self.config.image_size // self.config.patch_size) ** 2 + 1
        h = torch.zeros(len(idx), n, self.config.hidden_size)
        if not self.constant:
            h[:, :, : self.classes] = 3 * F.one_hot(self.labels[idx], self.classes).float()[:, None]
        return BaseModelOutputWithPooling(last_hidden_state=h, pooler_output=h[:, 0],
                                          hidden_states=(h,) * (self.config.num_hidden_layers + 1))  # fmt: skip


@pytest.mark.parametrize("constant", [False, True])
def test_oracle_tower_names_the_category(small_dataset, tmp_path, constant):
    """Trained in both stages on the small build's canonical views (the LM is trained from scratch here, so stage 1
    alone, which presumes a pretrained LM, cannot make it speak), a tower that leaks the label gets its images'
    categories right in nearly every caption; a constant tower can do no better than one class's share."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    cfg = VLMTrainConfig(stage1_epochs=2, stage2_epochs=60, stage2_lr=1e-3, batch_size=16)
    images, cats, caps, classes = _train_rows(small_dataset, cfg)
    tok = train_bpe_tokenizer(vlm_corpus(classes, caps), 512)
    clip, _ = create_clip("vantage-clip-micro")
    tower = convert_open_clip_tower(clip)
    model = build_llava(tower, tok, LM)
    labels = torch.tensor([classes.index(c) for c in cats])
    model.model.vision_tower = _Oracle(images, labels, len(classes), tower.config, constant)
    for stage in (1, 2):
        model = _stage(cfg, model, tok, images, _pairs(cats, caps, classes, stage, 0), stage, tmp_path / f"s{stage}",
                       False, None, False)  # fmt: skip
    mean, std = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    hits, _ = category_hits(generate(model, tok, images * std + mean, "Describe the image."), cats, classes)
    if constant:
        assert hits.mean() <= max(cats.count(c) for c in classes) / len(cats) + 1e-9
    else:
        assert hits.mean() >= 0.85, hits.mean()


def test_category_words_and_synonyms():
    hits, wrong = category_hits(["a photo of a plane.", "two cars", "a chair and a car", "nothing"],
                                ["airplane", "car", "chair", "car"], ["airplane", "car", "chair"])  # fmt: skip
    assert hits.tolist() == [True, True, True, False] and wrong[2] == ["car"] and wrong[0] == []


def test_train_and_eval_vlm_commands_and_bad_input(small_dataset, tmp_path, monkeypatch):
    out = tmp_path / "run"
    res = run_cli("train", "vlm", "-p", "quick", "--data", str(small_dataset), "--out", str(out), "-q",
                  "--stage2-epochs", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    model = out / "model"
    assert (model / "config.json").is_file() and (model / "tokenizer.json").is_file()
    res = run_cli("eval", "vlm", "--model", str(model), "--data", str(small_dataset), "-p", "quick",
                  "--out", str(tmp_path / "ev.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    rec = json.loads((tmp_path / "ev.json").read_text())
    assert {"clean", "sphere", "worst_view", "blur"} <= set(rec["sets"]) and "pope_f1" in rec["sets"]["clean"]
    # bad input: one line each, no traceback (a hub id offline: fails at once, never downloads)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "clipish").mkdir()
    (tmp_path / "clipish" / "config.json").write_text(json.dumps({"model_type": "clip"}))
    import shutil

    shutil.copytree(model, tmp_path / "broken")
    weights = next((tmp_path / "broken").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated weights
    for args, message in [
        (("eval", "vlm", "--model", str(tmp_path / "empty")), "is not a saved VLM"),
        (("eval", "vlm", "--model", str(tmp_path / "clipish")), "is not a LLaVA model"),
        (("eval", "vlm", "--model", str(tmp_path / "broken")), "is not a loadable VLM folder"),
        (("train", "vlm", "--set", "lm.hidden_sise=8", "--out", str(tmp_path / "t3")), "hidden_sise"),
        (("eval", "vlm", "--model", "llava-hf/llava-1.5-7b-hf"), "unavailable"),
        (("eval", "vlm", "--model", str(model), "--refit"), "--refit needs --tower"),
        (("train", "vlm", "--tower", "no-such-clip", "--out", str(tmp_path / "t2")), "no-such-clip"),
    ]:  # fmt: skip
        res = run_cli(*args, "--data", str(small_dataset), "-p", "quick")
        assert res.returncode == 1 and message in res.stderr and "Traceback" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_bench_vlm_suite_quick(small_dataset, tmp_path):
    """The suite end to end at the quick scale: base VLM, the OVT tower swapped in, and projector re-fitted; the
    report has its table and example captions, and the findings read its claims."""
    res = run_cli("bench", "--preset", "quick", "--suite", "vlm", "--data", str(small_dataset), "--out",
                  str(tmp_path / "b"), "-q", "--set", "vlm.train.stage2_epochs=3", "--set", "vlm.ovt.batch_size=8",
                  "--set", "vlm.ovt.clean_batch_size=4")  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = json.loads((tmp_path / "b" / "results.json").read_text())["suites"]["vlm"]
    assert set(results["table"]) == {"base", "faithful", "faithful_refit"}
    assert "category" in results["deltas"]["faithful"]["groups"]["viewpoint"]
    html = (tmp_path / "b" / "report.html").read_text()
    assert "example captions" in html and "OVT faithful tower, no retraining" in html
