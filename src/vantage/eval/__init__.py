"""Evaluation: weighted kNN and pose metrics (the full pose-SSL benchmark arrives with issue #3)."""

from vantage.eval.knn import knn_scores, knn_top1
from vantage.eval.pose import PoseScores, absolute_pose_knn, geodesic_deg

__all__ = ["PoseScores", "absolute_pose_knn", "geodesic_deg", "knn_scores", "knn_top1"]
