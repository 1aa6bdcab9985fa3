"""Losses: viewpoint-trajectory regularisation, SSL objectives (lightly), OVT cross-view alignment, multi-view
time-contrastive objectives for video alignment."""

from vantage.losses.cross_view import (
    EMACentres,
    MinedViews,
    cross_view_loss,
    mine_outlier_views,
    mine_outlier_views_loop,
)
from vantage.losses.ssl import SSL_METHOD_TABLE, SSL_METHODS, SSLMethod, SSLObjective
from vantage.losses.time_contrastive import (
    cycle_consistency_loss,
    multiview_infonce,
    sample_tcn_frames,
    tcn_margin_loss,
)
from vantage.losses.trajectory import trajectory_cosine, trajectory_loss

__all__ = [
    "SSL_METHODS",
    "SSL_METHOD_TABLE",
    "EMACentres",
    "MinedViews",
    "SSLMethod",
    "SSLObjective",
    "cross_view_loss",
    "cycle_consistency_loss",
    "mine_outlier_views",
    "mine_outlier_views_loop",
    "multiview_infonce",
    "sample_tcn_frames",
    "tcn_margin_loss",
    "trajectory_cosine",
    "trajectory_loss",
]
