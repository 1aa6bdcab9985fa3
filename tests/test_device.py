"""``--device``: names resolved (and refused when this machine lacks them), training placed by bench, and the
evaluators running where the model is."""

from __future__ import annotations

import pytest
import torch

from vantage.bench.runner import _place_training
from vantage.config import ConfigError, load_preset
from vantage.models import lightning_devices, module_device, resolve_device
from vantage.train.common import _changed_fields


def test_resolve_device_names_and_refusals():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    with pytest.raises(ConfigError, match="is not a device"):
        resolve_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device is available"):
            resolve_device("cuda:0")
    if not torch.backends.mps.is_available():
        with pytest.raises(ConfigError, match="MPS is not available"):
            resolve_device("mps")


def test_lightning_fields_and_bench_placement():
    assert lightning_devices("auto") == {} and lightning_devices("cpu") == {"accelerator": "cpu"}
    config = load_preset("quick")
    _place_training(config, ["data", "pose_ssl", "ovt", "action"], {"accelerator": "cpu"})
    assert config["ssl"]["train"]["accelerator"] == "cpu"
    assert config["ovt"]["base"]["accelerator"] == config["ovt"]["train"]["accelerator"] == "cpu"
    assert config["action"]["train"]["accelerator"] == "cpu" and "accelerator" not in config["action"]["data"]
    assert "accelerator" not in config["ssl"]["eval"] and "accelerator" not in config.get("trl3d", {}).get("train", {})
    # which GPU a run trained on is not part of its identity: cuda:1 (devices=[1]) resumes a devices=1 run
    assert _changed_fields({"devices": 1, "lr": 0.1}, {"devices": [1], "lr": 0.1}) == []
    assert _changed_fields({"devices": 1}, {"devices": 2}) == ["devices"]


def test_module_device_and_evaluators_follow_the_model():
    from vantage.eval.classify import predict

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    assert module_device(net) == torch.device("cpu") and module_device(lambda x: x) == torch.device("cpu")
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: CPU
    pred = predict(net.to(resolve_device("auto")), torch.rand(5, 3, 2, 2))
    assert pred.device == torch.device("cpu") and pred.shape == (5,)  # results come back on the CPU
