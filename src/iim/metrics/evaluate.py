"""Evaluate a prediction file against a ground-truth localization file (what ``iim-score`` runs; numpy only).

The images evaluated are the ground truth's. An image of the ground truth without a line in the predictions counts
as an image with zero predictions (all its heads are misses); such ids are listed in
:attr:`EvaluationResult.missing_ids` and a ``UserWarning`` is issued. An id in the predictions that the ground truth
does not have is an error (:class:`EvaluationError`), because it almost always means the wrong file or split (a
test submission scored against the val ground truth, say); ``ignore_extra=True`` drops such lines instead.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from iim.metrics.counting import LocalizationCounts, MatchingProtocol, score_image
from iim.metrics.loc_files import GTLocRecord, ImageId, read_gt_loc, read_pred_loc

__all__ = ["EvaluationError", "EvaluationResult", "evaluate_files", "evaluate_predictions"]

_MAX_LISTED = 10


class EvaluationError(ValueError):
    """The predictions and the ground truth do not describe the same images."""


def _list_ids(ids: list[ImageId]) -> str:
    shown = ", ".join(str(i) for i in ids[:_MAX_LISTED])
    return shown + (f", ... ({len(ids)} in total)" if len(ids) > _MAX_LISTED else "")


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """The outcome of :func:`evaluate_predictions` / :func:`evaluate_files`.

    Attributes:
        protocol: The matching protocol used.
        metrics: The dataset-level metrics (keys as :meth:`MatchingProtocol.metric_names`).
        counts: The summed counts behind them.
        per_image: One row per ground-truth image, in ground-truth order: ``id``, ``gt_count`` (the file's
            ``num``), ``gt_points``, ``pred_count``, then ``tp_<k>``, ``fp_<k>``, ``fn_<k>`` for every radius ``k``
            (``s`` and ``l`` for the NWPU protocol, ``r4``, ``r8``, ... for the fixed one).
        missing_ids: Ground-truth images without a prediction line (scored as zero predictions).
        ignored_ids: Prediction lines without a ground-truth image that were dropped (``ignore_extra=True``).
        pred_path: The prediction file, if the input came from files.
        gt_path: The ground-truth file, if the input came from files.
    """

    protocol: MatchingProtocol
    metrics: dict[str, float]
    counts: LocalizationCounts
    per_image: list[dict[str, Any]]
    missing_ids: list[ImageId]
    ignored_ids: list[ImageId]
    pred_path: str | None = None
    gt_path: str | None = None

    @property
    def num_images(self) -> int:
        """Number of images evaluated (those of the ground truth)."""
        return self.counts.num_images

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no per-image rows): files, protocol, metrics, counts, missing and ignored ids.

        NaN metrics (e.g. ``nae`` when no image has a positive count) become ``None``.
        """
        return {
            "pred_file": self.pred_path,
            "gt_file": self.gt_path,
            "protocol": self.protocol.name,
            "radii": None if self.protocol.radii is None else list(self.protocol.radii),
            "num_images": self.num_images,
            "metrics": {k: (None if v != v else v) for k, v in self.metrics.items()},
            "counts": self.counts.as_dict(self.protocol),
            "missing_ids": list(self.missing_ids),
            "ignored_ids": list(self.ignored_ids),
        }


def evaluate_predictions(
    preds: Mapping[ImageId, Any],
    gt: Mapping[ImageId, GTLocRecord],
    *,
    protocol: Literal["nwpu", "fixed"] = "nwpu",
    radii: tuple[float, ...] | list[float] | None = None,
    ignore_extra: bool = False,
    warn_missing: bool = True,
) -> EvaluationResult:
    """Evaluate in-memory predictions against ground-truth records (see the module docstring for the id rules).

    Args:
        preds: ``{image id: points}``, e.g. from :func:`~iim.metrics.read_pred_loc`.
        gt: ``{image id: GTLocRecord}``, e.g. from :func:`~iim.metrics.read_gt_loc`.
        protocol: ``"nwpu"`` (per-head ``sigma_s`` / ``sigma_l``) or ``"fixed"`` (``radii`` for every head).
        radii: Radii of the fixed protocol (default ``(4, 8)``); ``None`` for ``"nwpu"``.
        ignore_extra: Drop prediction ids that the ground truth lacks instead of raising.
        warn_missing: Issue a ``UserWarning`` listing ground-truth ids without predictions.

    Returns:
        The :class:`EvaluationResult`.

    Raises:
        EvaluationError: prediction ids that the ground truth lacks (unless ``ignore_extra``).
        ValueError: invalid points or records, or an invalid protocol.

    Shape:
        - preds[id]: :math:`(N, 2)` as (x, y) pixels
    """
    proto = MatchingProtocol(protocol, None if radii is None else tuple(radii))
    extra = [i for i in preds if i not in gt]
    if extra and not ignore_extra:
        raise EvaluationError(
            f"{len(extra)} prediction id(s) are not in the ground truth: {_list_ids(extra)}; expected a subset of the "
            f"{len(gt)} ground-truth ids (wrong file or split?)"
        )
    missing = [i for i in gt if i not in preds]
    if missing and warn_missing:
        warnings.warn(
            f"{len(missing)} ground-truth image(s) have no predictions and count as zero predictions: "
            f"{_list_ids(missing)}",
            UserWarning,
            stacklevel=2,
        )
    counts = LocalizationCounts.zeros(len(proto.suffixes))
    rows: list[dict[str, Any]] = []
    for image_id, rec in gt.items():
        if not isinstance(rec, GTLocRecord):
            raise ValueError(f"gt[{image_id!r}] must be a GTLocRecord (see GTLocRecord.from_arrays), got {type(rec)}")
        points = preds.get(image_id, ())
        try:
            score = score_image(points, rec.as_target(), proto)
        except ValueError as err:
            raise ValueError(f"image {image_id!r}: {err}") from err
        counts.add(score)
        row: dict[str, Any] = {
            "id": image_id,
            "gt_count": rec.num,
            "gt_points": len(rec),
            "pred_count": score.pred_count,
        }
        for k, s in enumerate(proto.suffixes):
            row[f"tp_{s}"], row[f"fp_{s}"], row[f"fn_{s}"] = int(score.tp[k]), int(score.fp[k]), int(score.fn[k])
        rows.append(row)
    return EvaluationResult(
        protocol=proto,
        metrics=counts.summary(proto),
        counts=counts,
        per_image=rows,
        missing_ids=missing,
        ignored_ids=extra,
    )


def evaluate_files(
    pred_path: str | os.PathLike[str],
    gt_path: str | os.PathLike[str],
    *,
    protocol: Literal["nwpu", "fixed"] = "nwpu",
    radii: tuple[float, ...] | list[float] | None = None,
    ignore_extra: bool = False,
    warn_missing: bool = True,
) -> EvaluationResult:
    """Read a prediction file and a ground-truth localization file and evaluate (NWPU-Crowd protocol by default).

    Args:
        pred_path: ``<id> <num> x1 y1 ...`` per line (:func:`~iim.metrics.read_pred_loc`).
        gt_path: ``<id> <num> x y sigma_s sigma_l level ...`` per line (:func:`~iim.metrics.read_gt_loc`).
        protocol: ``"nwpu"`` or ``"fixed"``.
        radii: Radii of the fixed protocol (default ``(4, 8)``).
        ignore_extra: Drop prediction ids that the ground truth lacks instead of raising.
        warn_missing: Issue a ``UserWarning`` listing ground-truth ids without predictions.

    Returns:
        The :class:`EvaluationResult` (with ``pred_path`` and ``gt_path`` set).

    Raises:
        LocFileError: a malformed line in either file (file, line number, expected vs found).
        EvaluationError: prediction ids that the ground truth lacks (unless ``ignore_extra``).
        OSError: a file cannot be read.

    Example:
        >>> result = evaluate_files("preds.txt", "val_gt_loc.txt")  # doctest: +SKIP
        >>> result.metrics["f1"], result.metrics["mae"]  # doctest: +SKIP
    """
    gt = read_gt_loc(gt_path)
    preds = read_pred_loc(pred_path)
    result = evaluate_predictions(
        preds, gt, protocol=protocol, radii=radii, ignore_extra=ignore_extra, warn_missing=warn_missing
    )
    return dataclasses.replace(result, pred_path=str(pred_path), gt_path=str(gt_path))
