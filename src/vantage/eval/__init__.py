"""Evaluation: weighted kNN, pose metrics, probes on frozen features, the pose-aware SSL benchmark, viewpoint-shift
classification and the zero-shot viewpoint benchmark for CLIP models."""

from vantage.eval.alignment import alignment_metrics, kendall_tau_b, kendall_tau_reference, nearest_frames
from vantage.eval.classify import (
    ClassifyEval,
    evaluate_classifier,
    evaluate_imagefolder,
    evaluate_pseudo_depth,
    evaluate_real_classification,
    perspective_perturb,
    predict,
    pseudo_depth_maps,
)
from vantage.eval.features import ImageBank, eval_image_size, extract_features, load_image_bank
from vantage.eval.knn import knn_scores, knn_top1
from vantage.eval.metrics import POSE_METRICS, lookup, per_view_accuracy, pose_table_markdown, variant_table_rows
from vantage.eval.pose import PoseScores, absolute_pose_knn, geodesic_deg
from vantage.eval.pose_ssl import (
    PoseEvalConfig,
    PoseEvalData,
    PoseEvalResult,
    evaluate_pose_ssl,
    load_pose_eval_data,
)
from vantage.eval.probes import (
    PairProbe,
    PairTargets,
    RelativePoseScores,
    linear_probe,
    relative_azimuth_targets,
    relative_rotation_targets,
    sample_pairs,
    score_pair_probe,
    train_pair_probe,
)
from vantage.eval.zeroshot import (
    ZeroShotConfig,
    ZeroShotData,
    coil20_retrieval,
    load_zeroshot_data,
    shift_2d,
    zero_shot_classifier,
    zeroshot_benchmark,
)

__all__ = [
    "POSE_METRICS",
    "ClassifyEval",
    "ImageBank",
    "PairProbe",
    "PairTargets",
    "PoseEvalConfig",
    "PoseEvalData",
    "PoseEvalResult",
    "PoseScores",
    "RelativePoseScores",
    "ZeroShotConfig",
    "ZeroShotData",
    "absolute_pose_knn",
    "alignment_metrics",
    "coil20_retrieval",
    "eval_image_size",
    "evaluate_classifier",
    "evaluate_imagefolder",
    "evaluate_pose_ssl",
    "evaluate_pseudo_depth",
    "evaluate_real_classification",
    "extract_features",
    "geodesic_deg",
    "kendall_tau_b",
    "kendall_tau_reference",
    "knn_scores",
    "knn_top1",
    "linear_probe",
    "load_image_bank",
    "load_pose_eval_data",
    "load_zeroshot_data",
    "lookup",
    "nearest_frames",
    "per_view_accuracy",
    "perspective_perturb",
    "pose_table_markdown",
    "predict",
    "pseudo_depth_maps",
    "relative_azimuth_targets",
    "relative_rotation_targets",
    "sample_pairs",
    "score_pair_probe",
    "shift_2d",
    "train_pair_probe",
    "variant_table_rows",
    "zero_shot_classifier",
    "zeroshot_benchmark",
]
