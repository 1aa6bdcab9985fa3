"""Typed config loading: presets, YAML files, overrides, error messages."""

from __future__ import annotations

import pytest

from vantage.bench import check_bench_config, method_settings
from vantage.config import ConfigError, config_hash, load_preset, load_yaml, preset_names, set_override
from vantage.data import BuildConfig, load_build_config, plan_objects


def test_shipped_presets_parse():
    assert {"quick", "default", "paper"} <= set(preset_names())
    for name in preset_names():
        cfg = load_build_config(name)
        assert isinstance(cfg, BuildConfig) and cfg.name == ("default" if name == "repro" else name)
        config = load_preset(name)  # every method section is typed and valid too
        check_bench_config(config, config["bench"]["suites"], name)
    # repro extends default: same data (so it reuses the cached build), only the ssl settings differ
    assert load_build_config("repro") == load_build_config("default")
    ssl = method_settings("pose_ssl", "repro")
    train, eval_cfg, bench = ssl.raw["train"], ssl["eval"], ssl["bench"]
    assert train["epochs"] == 2 and train["stem"] == "cifar_pool" and bench.seeds == [0, 1, 2]
    assert eval_cfg.pair_steps == 1000
    default = load_build_config("default")
    assert default == BuildConfig()  # the YAML spells out the code defaults
    counts = {}
    for t in plan_objects(default):
        counts[t.split] = counts.get(t.split, 0) + 1
    assert counts == {"train": 13 * 22, "val": 13 * 4, "test": 13 * 4 + 11 * 10}


def test_overrides_and_hash():
    cfg = load_build_config("quick", ["image_size=48", "camera.fov_deg=30", "view_sets.triplet.step_deg=5"])
    assert cfg.image_size == 48 and cfg.camera.fov_deg == 30.0 and cfg.view_sets["triplet"].step_deg == 5.0
    assert config_hash(cfg) != config_hash(load_build_config("quick"))
    assert config_hash(load_build_config("quick")) == config_hash(load_build_config("quick"))
    data = {}
    set_override(data, "a.b=[1, 2]")
    assert data == {"a": {"b": [1, 2]}}
    with pytest.raises(ConfigError, match=r"key.path=value"):
        set_override(data, "nonsense")


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load_yaml(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match=r"mapping at the top level"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_preset(tmp_path / "missing.yaml")
    good = tmp_path / "mine.yaml"
    good.write_text("data:\n  name: mine\n  image_size: 40\n  objects_per_category: 2\n")
    cfg = load_build_config(good)
    assert cfg.name == "mine" and cfg.image_size == 40
    good.write_text("data:\n  image_size: forty\n")
    with pytest.raises(ConfigError, match=r"mine.yaml: data.image_size: expected an integer, got 'forty'"):
        load_build_config(good)


def test_extends_merges_and_rejects_cycles(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: quick\ndata: {image_size: 24}\nssl: {bench: {seeds: [3]}}\n")
    merged = load_preset(child)
    assert merged["data"]["image_size"] == 24 and merged["data"]["objects_per_category"] == 3
    assert merged["ssl"]["bench"]["seeds"] == [3] and merged["ssl"]["train"]["image_size"] == 16
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"extends: {b}\n")
    b.write_text(f"extends: {a}\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_preset(a)
    bad = tmp_path / "bad_ssl.yaml"
    bad.write_text("extends: quick\nssl: {bench: {methods: [byol]}}\n")
    with pytest.raises(ConfigError, match="byol"):
        method_settings("pose_ssl", str(bad))
    for text, match in (("sssl: {}", r"unknown preset section\(s\) \['sssl'\]"),
                        ("ovt: {trian: {}}", r"unknown key\(s\) \['trian'\] in ovt"),
                        ("bench: {suitez: [data]}", r"unknown key\(s\) \['suitez'\] in bench")):  # fmt: skip
        bad.write_text(f"extends: quick\n{text}\n")
        config = load_preset(bad)
        with pytest.raises(ConfigError, match=match):
            check_bench_config(config, ["data", "ovt"], "bad")


def test_an_old_preset_with_a_top_level_video_section_still_reads(tmp_path, capsys):
    """`video:` moved to `align.data:`; an old file is read as the new layout with one deprecation line."""
    from vantage.bench import method_settings
    from vantage.data.video import load_video_config

    old = tmp_path / "old.yaml"
    old.write_text("extends: quick\nvideo: {name: mine, trajectories_per_task: 2}\n")
    assert load_video_config(str(old)).name == "mine"
    assert method_settings("video_align", str(old))["data"].trajectories_per_task == 2
    err = capsys.readouterr().err
    assert err.count("`video:` section is now `align.data:`") == 1
    both = tmp_path / "both.yaml"
    both.write_text("video: {name: a}\nalign: {data: {name: b}}\n")
    with pytest.raises(ConfigError, match="give the video-alignment data once"):
        load_video_config(str(both))
