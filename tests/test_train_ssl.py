"""Pose-aware SSL training: the trajectory loss reaches the weights; interrupted runs resume exactly."""

from __future__ import annotations

import pytest
import torch

from conftest import small_config
from vantage.data import build_dataset
from vantage.data.build import SplitConfig
from vantage.data.views import ViewSetConfig
from vantage.losses import trajectory_loss
from vantage.train import PoseSSLModule, SSLTrainConfig, train_ssl
from vantage.train.ssl import triplet_loader


@pytest.fixture(scope="module")
def triplet_data(tmp_path_factory):
    """2 categories x 12 objects (6 train, 6 val: held-out objects) with 6 triplets each."""
    cfg = small_config(
        name="triplets",
        in_domain=["car", "chair"],
        out_of_domain=[],
        objects_per_ood_category=0,
        objects_per_category=12,
        split=SplitConfig(train=0.5, val=0.5, test=0.0),
        view_sets={"triplet": ViewSetConfig("triplet", 6, step_deg=10.0)},
        assign={"train": ["triplet"], "val": ["triplet"]},
        depth=[],
        mask=[],
    )
    root = tmp_path_factory.mktemp("trip") / "d"
    build_dataset(cfg, root, workers=2, progress=False)
    return root


def _held_out_traj(module: PoseSSLModule, root) -> float:
    loader = triplet_loader(root, module.cfg, split="val", shuffle=False)
    module.eval()
    with torch.no_grad():
        losses = [module.trajectory_term(b).item() for b in loader]
    module.train()
    return sum(losses) / len(losses)


def test_trajectory_loss_reaches_the_weights(triplet_data):
    import lightning as L

    cfg = SSLTrainConfig(
        method="simclr",
        traj_weight=50.0,  # dominant, so 24 steps move it measurably on objects never trained on
        optimizer="adamw",
        lr=3e-3,
        batch_size=16,
        epochs=8,
        proj_dim=64,
        hidden_dim=64,
        warmup_epochs=0,
        backbone_kwargs={"channels": [16, 32, 64, 128]},  # a narrow ResNet-18: the loss, not the width, is tested
    )
    L.seed_everything(0, verbose=False)
    loader = triplet_loader(triplet_data, cfg)
    module = PoseSSLModule(cfg, num_classes=2)
    before = _held_out_traj(module, triplet_data)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)
    after = _held_out_traj(module, triplet_data)
    assert after < before - 0.05, (before, after)


def test_interrupted_run_resumes_to_the_same_weights(triplet_data, tmp_path):
    cfg = SSLTrainConfig(
        method="vicreg",
        traj_weight=0.5,
        batch_size=36,
        epochs=2,
        proj_dim=32,
        hidden_dim=32,
        image_size=16,
        backbone_kwargs={"channels": [16, 32, 64, 128]},
    )
    straight = torch.load(train_ssl(cfg, triplet_data, tmp_path / "a", progress=False), weights_only=False)
    train_ssl(cfg, triplet_data, tmp_path / "b", progress=False, stop_after=1)  # interrupted after epoch 1
    # Calling again picks up last.ckpt (as a re-run after a kill would) and finishes.
    resumed = torch.load(train_ssl(cfg, triplet_data, tmp_path / "b", progress=False), weights_only=False)
    assert straight["epoch"] == resumed["epoch"] == 1
    for k, v in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][k], v, rtol=0, atol=0, msg=k)
    assert not list((tmp_path / "b" / "checkpoints").glob("*.tmp-*"))


def test_bad_config_values():
    with pytest.raises(ValueError, match="method must be one of"):
        SSLTrainConfig(method="byol")
    with pytest.raises(ValueError, match="traj_on"):
        SSLTrainConfig(traj_on="conv3")


def test_loss_values_are_the_paper_form():
    z = torch.randn(4, 8)
    assert trajectory_loss(z, z * 2, z * 3).item() == 0.0  # collinear with the centre: degenerate, silent
