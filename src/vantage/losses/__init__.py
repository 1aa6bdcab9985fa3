"""Losses: viewpoint-trajectory regularisation and SSL objectives (lightly)."""

from vantage.losses.ssl import SSL_METHODS, SSLObjective
from vantage.losses.trajectory import trajectory_cosine, trajectory_loss

__all__ = ["SSL_METHODS", "SSLObjective", "trajectory_cosine", "trajectory_loss"]
