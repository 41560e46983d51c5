"""NWPU-Crowd localization evaluation, exact and fast: matching, counts, file readers/writers, the torchmetrics metric.

- :func:`match_points` -- maximum-cardinality matching of predictions to heads within per-head radii
- :class:`LocalizationMetrics` -- precision / recall / F1 (sigma_s, sigma_l or fixed radii), per-level recall,
  MAE / MSE / NAE as a :class:`torchmetrics.Metric` (imported on first use: ``import iim.metrics`` itself needs only
  numpy and scipy, so the ``iim-score`` command starts fast)
- :func:`evaluate_files` -- a prediction file against a ground-truth file (what ``iim-score`` runs)
- :func:`read_gt_loc`, :func:`read_pred_loc`, :func:`write_gt_loc`, :func:`write_pred_loc` -- the text formats
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iim.metrics.counting import EPS, ImageScore, LocalizationCounts, MatchingProtocol, score_image, score_images
from iim.metrics.evaluate import EvaluationError, EvaluationResult, evaluate_files, evaluate_predictions
from iim.metrics.loc_files import (
    GTLocRecord,
    ImageId,
    LocFileError,
    parse_image_id,
    read_gt_loc,
    read_pred_loc,
    write_gt_loc,
    write_pred_loc,
)
from iim.metrics.matching import NUM_LEVELS, MatchResult, level_counts, match_points

if TYPE_CHECKING:
    from iim.metrics.localization import LocalizationMetrics

__all__ = [
    "EPS",
    "NUM_LEVELS",
    "EvaluationError",
    "EvaluationResult",
    "GTLocRecord",
    "ImageId",
    "ImageScore",
    "LocFileError",
    "LocalizationCounts",
    "LocalizationMetrics",
    "MatchResult",
    "MatchingProtocol",
    "evaluate_files",
    "evaluate_predictions",
    "level_counts",
    "match_points",
    "parse_image_id",
    "read_gt_loc",
    "read_pred_loc",
    "score_image",
    "score_images",
    "write_gt_loc",
    "write_pred_loc",
]


def __getattr__(name: str) -> Any:
    if name == "LocalizationMetrics":  # torchmetrics (and torch) only when the metric is used
        from iim.metrics.localization import LocalizationMetrics

        return LocalizationMetrics
    raise AttributeError(f"module 'iim.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"LocalizationMetrics"})
