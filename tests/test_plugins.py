"""The method plug-in contract: a new method drops in with one file, old run folders and datasets still load."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from vantage.bench import (
    METHODS,
    BenchContext,
    Evaluation,
    MethodPlugin,
    Trained,
    Variant,
    register_method,
    render_report,
)
from vantage.data import ClipDataset, DatasetError, TripletDataset, load_records
from vantage.report import Section, Table, fmt_mean_std

OLD_RESULTS = Path(__file__).parent / "data" / "results_before_plugins.json"


def test_old_results_json_renders(tmp_path):
    shutil.copy(OLD_RESULTS, tmp_path / "results.json")
    page, md = render_report(tmp_path)
    html = page.read_text()
    for title in ("Data", "Pose-aware SSL", "3DTRL: viewpoint-robust classification", "Omniview-Tuning"):
        assert title in html
    assert "| vicreg+traj0.1 |" in md and "| +3DTRL improved |" in md and "Δ vs base" in md
    assert "(Absolute-pose accuracy per viewpoint (azimuth x elevation): not available)" in html  # PNGs absent


@dataclass
class _MeanPixelBench:
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    scales: list[float] = field(default_factory=lambda: [1.0, 2.0])


@dataclass
class _NoTrain:
    pass


def test_a_new_method_drops_in(small_dataset, tmp_path):
    """One class: its preset section, variants, train, evaluate and report section; the grid does the rest."""

    @register_method
    class MeanPixel(MethodPlugin):
        name, title, section = "mean_pixel", "Mean pixel", "mean_pixel"
        parts: ClassVar[dict[str, type]] = {"train": _NoTrain, "bench": _MeanPixelBench}

        def variants(self, s):
            return [Variant(f"x{k:g}", f"x{k:g}", {"scale": k}, None if k == 1 else "x1") for k in s["bench"].scales]

        def train(self, ctx, s, v, seed, run_dir, root, done):
            return Trained(None, f"scale{v.fields['scale']}-seed{seed}", v.fields["scale"])

        def evaluate(self, ctx, s, v, seed, trained, root):
            rows = load_records(root)[:20]
            px = np.mean([np.asarray(Image.open(root / r.file_name)).mean() for r in rows])
            return Evaluation({"score": float(px * trained.config + seed)}, {"curve": np.arange(3) * seed})

        def present(self, res, run_dir):
            rows = [[n, fmt_mean_std(t["score"])] for n, t in res["table"].items()]
            return Section(self.title, [Table(["model", "score"], rows)])

    try:
        ctx = BenchContext("test", {"mean_pixel": {"bench": {"seeds": [0, 1]}}}, tmp_path, data_root=small_dataset)
        res = METHODS["mean_pixel"].run(ctx)
        assert res["order"] == ["x1", "x2"] and res["table"]["x1"]["score"]["n"] == 2
        base = res["table"]["x1"]["score"]["mean"]
        # x2 doubles the pixel mean; the mean seed (0.5) is added once; means are stored to 4 places
        assert res["table"]["x2"]["score"]["mean"] == pytest.approx(2 * base - 0.5, abs=1e-3)
        assert res["deltas"]["x2"]["score"]["mean"] == pytest.approx(base - 0.5, abs=1e-3)
        assert (tmp_path / "mean_pixel" / "x2-seed1" / "eval.npz").is_file()
        with pytest.raises(Exception, match="unknown key"):
            METHODS["mean_pixel"].settings({"mean_pixel": {"trian": {}}})
        again = METHODS["mean_pixel"].run(ctx)  # evaluations come from the cache
        assert again["table"] == res["table"]
        (tmp_path / "results.json").write_text(json.dumps({"preset": "t", "suites": {"mean_pixel": res}}))
        page, md = render_report(tmp_path)
        assert "Mean pixel" in page.read_text() and "| x2 |" in md
    finally:
        METHODS.pop("mean_pixel")


def test_old_dataset_triplets_read_through_sequence_fields(small_dataset):
    raw = [json.loads(line) for line in (small_dataset / "metadata.jsonl").read_text().splitlines()]
    trip = [r for r in raw if r["view_set"] == "triplet"]
    assert trip and all("sequence_id" not in r for r in trip)  # written without the new fields
    rows = [r for r in load_records(small_dataset) if r.view_set == "triplet"]
    assert all(r.sequence_id == f"{r.object_id}/triplet{r.triplet_id}" for r in rows)
    assert all(r.frame_index == "LCR".index(r.triplet_pos) for r in rows)
    ds = TripletDataset(small_dataset)
    keys = [(t["C"].object_id, t["C"].triplet_id) for t in ds.triplets]
    assert keys == sorted(keys)  # the order training has always used


def _write_sequences(root: Path, cameras=("fpv", "tpv0", "tpv1"), frames=6, drop=None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s, cat in enumerate(["pour", "stack"]):
        for c, cam in enumerate(cameras):
            for t in range(frames):
                if drop == (s, cam, t):
                    continue
                name = f"s{s}_{cam}_{t}.png"
                Image.fromarray(np.full((8, 8, 3), 10 * t + c, np.uint8)).save(root / name)
                pose = np.eye(4)
                pose[0, 3] = t
                rows.append({"file_name": name, "object_id": f"seq{s}", "category": cat, "domain": "in",
                             "split": "train", "view_set": "video", "view_id": c, "azimuth_deg": 30.0 * c,
                             "sequence_id": f"seq{s}", "frame_index": t, "camera_id": cam,
                             "phase": "reach" if t < 3 else "pour", "cam_to_world": pose.tolist()})  # fmt: skip
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_clip_dataset_reads_synchronised_cameras(tmp_path):
    _write_sequences(tmp_path / "v")
    ds = ClipDataset(tmp_path / "v", frames=3, stride=2, clips_per_sequence=1)
    assert len(ds) == 2 and ds.classes == ["pour", "stack"]
    item = ds[0]
    assert item["frames"].shape == (3, 3, 3, 8, 8) and item["cameras"] == ["fpv", "tpv0", "tpv1"]
    assert item["frame_index"].tolist() == [0, 2, 4] and item["phase"] == ["reach", "reach", "pour"]
    assert item["cam_to_world"][1, 2, 0, 3] == 4  # camera tpv0, third frame (index 4)
    assert torch.allclose(item["frames"][2, 1], torch.full((3, 8, 8), (10 * 2 + 2) / 255))
    every = ClipDataset(tmp_path / "v", frames=2, clips_per_sequence=0, cameras=["tpv1"])
    assert len(every) == 2 * 5 and every[0]["frames"].shape == (1, 2, 3, 8, 8)
    whole = ClipDataset(tmp_path / "v", frames=0)
    assert whole[1]["frames"].shape[1] == 6 and whole[1]["label"] == 1
    with pytest.raises(DatasetError, match="fewer than a clip"):
        ClipDataset(tmp_path / "v", frames=7)
    spread = ClipDataset(tmp_path / "v", frames=3, stride=0, clips_per_sequence=2)  # 6 frames a sequence
    assert [spread[k]["frame_index"].tolist() for k in range(2)] == [[0, 2, 4], [1, 3, 5]] and len(spread) == 4
    assert len(ClipDataset(tmp_path / "v", frames=3, stride=0, clips_per_sequence=0)) == 2 * 2  # 6 // 3 each
    with pytest.raises(ValueError, match="stride >= 0"):
        ClipDataset(tmp_path / "v", frames=0, stride=0)
    with pytest.raises(DatasetError, match="no camera side"):
        ClipDataset(tmp_path / "v", cameras=["side"])


def test_clip_dataset_refuses_unsynchronised_cameras(tmp_path):
    _write_sequences(tmp_path / "v", drop=(1, "tpv0", 3))
    with pytest.raises(DatasetError, match="seq1 camera tpv0 is not synchronised"):
        ClipDataset(tmp_path / "v", frames=2)


def test_renderer_factory_and_default_fingerprint():
    from vantage.data import BuildConfig
    from vantage.data.build import build_fingerprint
    from vantage.render import RENDERERS, PyBulletRenderer, create_renderer

    assert RENDERERS["pybullet"] is PyBulletRenderer
    r = create_renderer("pybullet", supersample=1)
    r.close()
    with pytest.raises(ValueError, match="unknown renderer"):
        create_renderer("mitsuba")
    with pytest.raises(ValueError, match="not registered"):
        BuildConfig(renderer="mitsuba")
    # the default renderer is implied: a config that names it has the fingerprint builds had before the field
    assert build_fingerprint(BuildConfig()) == build_fingerprint(BuildConfig(renderer="pybullet"))


def test_findings_verdicts():
    from vantage.bench.findings import Claim, claim_row, verdict

    assert verdict({"mean": 2.0, "std": 0.5, "n": 3}, True) == "yes (3 seeds)"
    assert verdict({"mean": -2.0, "std": 0.5, "n": 3}, True).startswith("no")
    assert verdict({"mean": 0.2, "std": 0.5, "n": 3}, True).startswith("unclear")
    assert verdict({"mean": -0.1, "std": 0.0, "n": 3}, False) == "yes (3 seeds)"
    assert "1 seed" in verdict({"mean": 1.0, "std": 0.0, "n": 1}, True) and verdict(None, True) == "not run"
    claim = Claim("a claim", ("m", "top1"), "+3")
    assert claim_row(claim, {"m": {"top1": {"mean": 1.234, "std": 0.5, "n": 2}}}) == ["a claim", "+1.2 ± 0.5", "+3",
                                                                                     "yes (2 seeds)"]  # fmt: skip
    assert claim_row(claim, {})[1:] == ["-", "+3", "not run"]


def test_findings_say_n_1_and_no_effect_plainly():
    from vantage.bench.findings import Claim, claim_row

    claim = Claim("x", ("v", "m"), "+1")
    one = claim_row(claim, {"v": {"m": {"mean": 0.4, "std": 0.0, "n": 1}}})
    assert one[1] == "+0.4 (n = 1: no spread)" and "1 seed: not decided" in one[3]
    zero = claim_row(claim, {"v": {"m": {"mean": 0.0, "std": 0.0, "n": 3}}})
    assert zero[3] == "no effect (3 seeds)" and "opposite" not in zero[3]
    three = claim_row(claim, {"v": {"m": {"mean": 2.0, "std": 0.5, "n": 3}}})
    assert three[1] == "+2.0 ± 0.5" and three[3] == "yes (3 seeds)"


def test_a_claim_whose_baseline_sits_at_chance_is_uninformative():
    from vantage.bench.findings import Claim, claim_row

    claim = Claim("x", ("v", "m"), "+1", competence=("table", "base", "acc"), chance="chance", margin=10)
    deltas = {"v": {"m": {"mean": 3.0, "std": 1.0, "n": 3}}}
    at_chance = {"chance": 11.1, "table": {"base": {"acc": {"mean": 14.6, "n": 3}}}}
    assert claim_row(claim, deltas, at_chance)[3].startswith("uninformative: the baseline has not learned its task")
    learned = {"chance": 11.1, "table": {"base": {"acc": {"mean": 70.0, "n": 3}}}}
    assert claim_row(claim, deltas, learned)[3] == "yes (3 seeds)"
    lower = Claim("y", ("v", "m"), "-1", False, competence=("table", "base", "err"), chance=1 / 3, margin=0.05,
                  higher_is_better=False)  # fmt: skip
    near = {"table": {"base": {"err": {"mean": 0.30, "n": 3}}}}
    assert claim_row(lower, {"v": {"m": {"mean": -0.1, "std": 0.01, "n": 3}}}, near)[3].startswith("uninformative")
