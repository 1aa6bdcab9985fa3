"""Action recognition: the action videos, the protocols, TimeSformer / per-frame ViT ± 3DTRL (parity, step-0
equality, the pretrained-loading path), training, the evaluator's oracles and the CLI."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_cli
from vantage.data import ActionClipDataset, action_split, camera_distances, load_records, verify_dataset
from vantage.data.video import VideoConfig, build_video_dataset, video_fingerprint
from vantage.data.video_tasks import ACTION_TASKS, TASKS, actor_style, script_task
from vantage.eval.action import ActionEvalConfig, action_accuracy, evaluate_action
from vantage.models import (
    PretrainedUnavailable,
    add_3dtrl,
    create_frame_transformer,
    create_timesformer,
    find_3dtrl,
    trl3d_param_formula,
    video_logits,
)

TASKS_3 = ["reach_left", "reach_right", "wave"]


def _tiny() -> VideoConfig:
    return VideoConfig(name="atest", tasks=TASKS_3, actors=2, trajectories_per_task=2, image_size=16,
                       tpv_cameras=4, seen_tpv=2, fpv=False, frame_stride=6)  # fmt: skip


@pytest.fixture(scope="module")
def action_build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("action") / "a"
    res = build_video_dataset(_tiny(), root, workers=1, progress=False)
    assert res.complete and res.rendered > 0
    return root


def test_action_tasks_and_actors():
    assert len(ACTION_TASKS) >= 8 and set(ACTION_TASKS) <= set(TASKS)
    paths = {}
    for task in ACTION_TASKS:
        traj = script_task(task, np.random.default_rng(0))
        paths[task] = np.array([f.gripper for f in traj.frames])
        assert len(traj.frames) >= 20 and len(set(traj.phases)) >= 3
    # reaching left and right mirror each other in y; waving sweeps both ways
    assert paths["reach_left"][:, 1].max() > 0.15 and paths["reach_right"][:, 1].min() < -0.15
    assert np.ptp(paths["wave"][:, 1]) > 0.25
    styles = [actor_style(k) for k in range(4)]
    assert len({s.color for s in styles}) == 4 and all(s.scale >= 1.0 for s in styles)
    slow, fast = (script_task("lift", np.random.default_rng(1), actor=actor_style(k)) for k in (1, 2))
    assert len(slow.frames) < len(fast.frames) * 1.5  # paces differ by actor but stay comparable


def test_new_fields_leave_earlier_video_builds_unchanged():
    """actors / fpv at their defaults are left out of the fingerprint: the caches of earlier builds stay valid."""
    assert video_fingerprint(VideoConfig()) == "71700b11289644b1166b056da4204e6c6115cdf58c4f406e0f7f2857cc7a1804"
    assert video_fingerprint(VideoConfig(actors=2)) != video_fingerprint(VideoConfig())


def test_action_build_has_actors_and_static_cameras_only(action_build):
    assert not verify_dataset(action_build)
    rows = load_records(action_build)
    assert {r.camera_id for r in rows} == {"tpv0", "tpv1", "tpv2", "tpv3"}
    assert {r.extra["actor"] for r in rows} == {"a0", "a1"}
    assert {r.category for r in rows} == set(TASKS_3)
    assert len({r.sequence_id for r in rows}) == 3 * 2 * 2


def test_protocols_never_leak_test_cameras_or_actors(action_build):
    cv = action_split(action_build, "cross_view", ["tpv0", "tpv2"], [])
    assert {c for _, c in cv.train} == {"tpv0", "tpv2"} and {c for _, c in cv.test} == {"tpv1", "tpv3"}
    assert cv.test_cameras == ["tpv1", "tpv3"] and len(cv.train) == len(cv.test) == 12 * 2
    test = ActionClipDataset(action_build, cv, "test", frames=4, clips_per_sequence=2)
    assert {test[i]["camera"] for i in range(len(test))} == {"tpv1", "tpv3"} and len(test) == 48
    dist = camera_distances(cv)
    assert set(dist) == {"tpv1", "tpv3"} and all(20 < d < 180 for d in dist.values())
    cs = action_split(action_build, "cross_subject", [], ["a1"])
    train_actors = {cs.actors[cs.sequences[k].sequence_id] for k, _ in cs.train}
    test_actors = {cs.actors[cs.sequences[k].sequence_id] for k, _ in cs.test}
    assert train_actors == {"a1"} and test_actors == {"a0"}
    with pytest.raises(Exception, match="tpv9"):
        action_split(action_build, "cross_view", ["tpv9"], [])
    with pytest.raises(Exception, match="a7"):
        action_split(action_build, "cross_subject", [], ["a7"])


def test_training_clips_jitter_and_augment_per_key(action_build):
    """Frame jitter and clip augmentation are a pure function of (seed, epoch, index): the same key gives the same
    clip, another epoch another one; every frame of a clip shares one crop and colour; the test side never moves."""
    from vantage.data.clips import jittered_positions
    from vantage.train.action import ActionTrainConfig, KeyedClips, action_data

    cfg = ActionTrainConfig(protocol="cross_view", train_cameras=["tpv0", "tpv2"], clip_frames=4, image_size=16,
                            frame_jitter=True, augment="clip")  # fmt: skip
    keyed = KeyedClips(action_data(action_build, cfg, "train"), cfg)
    a, b, c = keyed[(0, 3)], keyed[(0, 3)], keyed[(1, 3)]
    assert torch.equal(a[0], b[0]) and a[1] == b[1] == c[1] and not torch.equal(a[0], c[0])
    assert a[0].shape == (4, 3, 16, 16) and torch.isfinite(a[0]).all()
    plain = KeyedClips(action_data(action_build, cfg, "train"), ActionTrainConfig(
        protocol="cross_view", train_cameras=["tpv0", "tpv2"], clip_frames=4, image_size=16))  # fmt: skip
    assert torch.equal(plain[(0, 3)][0], plain[(5, 3)][0])  # no jitter, no augmentation: the fixed spread
    for _ in range(50):
        pos = jittered_positions(27, 8)
        assert all(int(i * 27 / 8) <= p < int((i + 1) * 27 / 8) + 1 for i, p in enumerate(pos)) and pos[-1] <= 26
    test = action_data(action_build, cfg, "test", clips_per_sequence=1)
    assert torch.equal(test[2]["frames"], test[2]["frames"])
    with pytest.raises(ValueError, match="augment"):
        ActionTrainConfig(augment="flip")


def test_clip_augmentation_shares_one_draw_across_frames():
    from vantage.data.transforms import clip_augmentation

    frame = torch.randn(3, 16, 16) * 0.3
    torch.manual_seed(0)
    out = clip_augmentation(16)(frame.expand(5, -1, -1, -1).clone())
    assert out.shape == (5, 3, 16, 16) and all(torch.equal(out[0], out[t]) for t in range(1, 5))
    assert not torch.allclose(out[0], frame, atol=1e-3)


def _tiny_timesformer(trl: str = "none") -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 64}
    return create_timesformer(5, 4, 16, cfg, trl3d=trl)


def test_3dtrl_in_timesformer_adds_only_its_parameters_and_starts_as_identity():
    base = _tiny_timesformer().eval()
    video = torch.randn(2, 4, 3, 16, 16)
    for mode in ("improved", "faithful"):
        model = add_3dtrl(copy.deepcopy(base), mode=mode).eval()
        layer = find_3dtrl(model)
        extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in base.parameters())
        assert extra == sum(p.numel() for p in layer.parameters())
        assert len(model.timesformer.encoder.layer) == len(base.timesformer.encoder.layer)  # no extra blocks
        if mode == "faithful":
            assert extra == trl3d_param_formula(32)
        else:
            assert torch.equal(video_logits(model, video), video_logits(base, video))
    faithful = add_3dtrl(copy.deepcopy(base), mode="faithful").eval()
    assert not torch.allclose(video_logits(faithful, video), video_logits(base, video))


def test_timesformer_tokens_reach_the_layer_frame_major():
    """TimeSformer orders tokens patch-major, frame-minor; the layer must see frame t's h x w grid as block t."""
    model = add_3dtrl(_tiny_timesformer(), mode="improved")
    ins, t, n, d = model.trl3d, 4, 4, 32
    seen = {}
    ins.layer.register_forward_pre_hook(lambda m, a: seen.update(x=a[0], grid=a[1]))
    x = torch.zeros(1, 1 + n * t, d)
    for p in range(n):
        for f in range(t):
            x[0, 1 + p * t + f, :2] = torch.tensor([f, p], dtype=torch.float)
    out = ins.timesformer_pre_hook(None, (x,))[0]
    tokens = seen["x"][0, 1:, :2].reshape(t, n, 2)
    assert seen["grid"] == (2, 2)
    assert torch.equal(tokens[..., 0], torch.arange(t).float()[:, None].expand(t, n))
    assert torch.equal(tokens[..., 1], torch.arange(n).float()[None, :].expand(t, n))
    assert torch.equal(out, x)  # the improved layer adds zero at step 0, and the permutation is undone


def test_saved_timesformer_loads_back_through_the_pretrained_path(tmp_path):
    model = _tiny_timesformer().eval()
    model.save_pretrained(tmp_path / "ts")
    again = create_timesformer(5, 4, 16, pretrained=str(tmp_path / "ts")).eval()
    video = torch.randn(2, 4, 3, 16, 16)
    assert torch.equal(video_logits(again, video), video_logits(model, video))
    more = create_timesformer(7, 4, 16, pretrained=str(tmp_path / "ts"))  # a new head for another class count
    assert video_logits(more.eval(), video).shape == (2, 7)
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        create_timesformer(5, 4, 16, pretrained=str(tmp_path / "missing"))


def test_offline_hub_timesformer_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(PretrainedUnavailable, match="timesformer-base-finetuned-k400"):
        create_timesformer(5, 8, 224, pretrained="facebook/timesformer-base-finetuned-k400")
    assert time.monotonic() - start < 30


def test_frame_transformer_with_3dtrl():
    kw = {"patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2}
    torch.manual_seed(0)
    base = create_frame_transformer(5, 4, 16, model_kwargs=kw).eval()
    model = add_3dtrl(copy.deepcopy(base.encoder), mode="improved")
    with_trl = copy.deepcopy(base)
    with_trl.encoder = model
    video = torch.randn(2, 4, 3, 16, 16)
    assert torch.equal(with_trl(video), base(video))
    with pytest.raises(ValueError, match="frames"):
        base(torch.randn(1, 6, 3, 16, 16))


class _Leaky(ActionClipDataset):
    """Real clips whose first pixel carries the label (for the oracle model)."""

    def __getitem__(self, index):
        item = super().__getitem__(index)
        item["frames"][0, 0, 0, 0] = float(item["label"])
        return item


def test_evaluator_oracles(action_build):
    split = action_split(action_build, "cross_view", ["tpv0"], [])
    clips = _Leaky(action_build, split, "test", frames=4, clips_per_sequence=2)
    k = len(clips.classes)

    def oracle(video):
        return torch.nn.functional.one_hot(video[:, 0, 0, 0, 0].round().long(), k).float()

    def constant(video):
        return torch.zeros(len(video), k).index_fill_(1, torch.tensor([0]), 1.0)

    res = evaluate_action(oracle, clips, camera_distances(split), ActionEvalConfig(2, batch_size=5))
    assert res["top1"] == 100.0 and res["mean_class"] == 100.0 and res["clips"] == len(split.test)
    assert set(res["per_camera"]) == {"tpv1", "tpv2", "tpv3"} and res["per_camera"]["tpv2"]["distance_deg"] > 0
    assert np.trace(np.array(res["confusion"])) == len(split.test)
    res = evaluate_action(constant, clips, {}, ActionEvalConfig(2))
    assert res["top1"] == pytest.approx(100 / k) and res["mean_class"] == pytest.approx(100 / k)
    assert action_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 1]), 3)["mean_class"] == 100.0
    assert action_accuracy(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 1]), 2) == {
        "top1": 75.0, "mean_class": 50.0, "clips": 4}  # fmt: skip


def test_train_and_eval_action_commands(action_build, tmp_path):
    run = tmp_path / "run"
    common = ["--data", str(action_build), "--preset", "quick", "-q"]
    args = ["train", "action", *common, "--3dtrl", "improved", "--out", str(run), "--epochs", "2", "--stop-after", "1",
            "--set", "image_size=16", "--set", "train_cameras=[tpv0,tpv1]"]  # fmt: skip
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    res = run_cli(*args[:-4])  # resume to the end (same config apart from the --set fields)
    assert res.returncode != 0 and "image_size" in res.stderr and "Traceback" not in res.stderr
    res = run_cli(*args)
    assert res.returncode == 0 and "resuming from" in res.stderr, res.stderr
    ckpt = run / "checkpoints" / "last.ckpt"
    out, fig = tmp_path / "eval.json", tmp_path / "dist.png"
    res = run_cli("eval", "action", "--checkpoint", str(ckpt), "--data", str(action_build), "--out", str(out),
                  "--figure", str(fig))  # fmt: skip
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout[: res.stdout.index("wrote")])
    assert 0 <= printed["top1"] <= 100 and set(printed["per_camera"]) == {"tpv2", "tpv3"}
    saved = json.loads(out.read_text())
    assert saved["protocol"] == "cross_view" and len(saved["confusion"]) == 3 and fig.stat().st_size > 1000
    res = run_cli("train", "action", *common, "--protocol", "cross_subject", "--set", "train_actors=[a5]",
                  "--out", str(tmp_path / "bad"))  # fmt: skip
    assert res.returncode == 1 and "a5" in res.stderr and "Traceback" not in res.stderr


def test_action_suite_through_grid_and_report(action_build, tmp_path):
    """The plug-in: both architectures ± 3DTRL under both protocols, deltas, the plot and the report."""
    from vantage.bench import METHODS, BenchContext, render_report

    tiny = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    config = {"action": {
        "train": {"image_size": 16, "clip_frames": 4, "clips_per_sequence": 1, "epochs": 1, "batch_size": 4,
                  "accelerator": "cpu", "train_cameras": ["tpv0", "tpv1"], "train_actors": ["a0"], "timesformer": tiny,
                  "frame_model_kwargs": {"patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2}},
        "bench": {"variants": ["timesformer", "timesformer_faithful", "frame", "frame_improved"],
                  "protocols": ["cross_view", "cross_subject"]}}}  # fmt: skip
    plugin = METHODS["action"]
    plugin_dataset = plugin.dataset
    plugin.dataset = lambda ctx, s: action_build  # the fixture's data instead of the preset's build
    try:
        res = plugin.run(BenchContext("t", config, tmp_path))
    finally:
        plugin.dataset = plugin_dataset
    assert len(res["order"]) == 8 and res["classes"] == sorted(TASKS_3)
    with_layer = ("timesformer_faithful", "frame_improved")
    assert set(res["deltas"]) == {f"{m}-{p}" for m in with_layer for p in ("cross_view", "cross_subject")}
    assert res["labels"]["frame_improved-cross_view"] == "per-frame ViT +3DTRL improved [cross-view]"
    cs = res["table"]["frame-cross_subject"]
    assert set(cs["per_actor"]) == {"a1"} and cs["per_camera"]["tpv0"]["distance_deg"]["mean"] == 0
    assert (tmp_path / res["plots"]["distance"]).is_file()
    # learning curves of the four baselines (no 3DTRL), with the training-fit and test-side probes
    curves = res["curves"]
    assert (tmp_path / curves["plot"]).is_file()
    protocols = ("cross_view", "cross_subject")
    assert set(curves["final"]) == {f"{m}-{p}" for m in ("timesformer", "frame") for p in protocols}
    assert all(0 <= f["fit_top1"] <= 100 and "loss" in f for f in curves["final"].values())
    (tmp_path / "results.json").write_text(json.dumps({"preset": "t", "suites": {"action": res}}))
    page, md = render_report(tmp_path)
    assert "Cross-view action recognition" in page.read_text() and "| per-frame ViT |" in md
    assert "Competence of the baselines" in md and "action_curves.png" in page.read_text()
    assert "Toyota Smarthome CV2" in md and "tpv3 (" in md
