"""The summed counts behind the localization and counting metrics, per image and over a data set (numpy only).

Everything here is shared by :class:`~iim.metrics.LocalizationMetrics` (torchmetrics, for training loops) and
:func:`~iim.metrics.evaluate_files` (files, the ``iim-score`` command), so both report the same numbers.

Two matching protocols:

- ``"nwpu"`` (default): the NWPU-Crowd protocol. Every ground-truth head has its own radii ``sigma_s`` (half the
  shorter box side) and ``sigma_l`` (half the box diagonal) and a size level 0..5; the matching is done once per radius.
  Keys ``*_s`` and ``*_l``; the headline ``precision`` / ``recall`` / ``f1`` are the ``sigma_l`` ones, and per-level
  recall ``recall_a0`` .. ``recall_a5`` (and their plain mean ``recall_mean``) are under ``sigma_l`` too.
- ``"fixed"``: one radius for every head, several radii at once (P2PNet/CLTR-style F1 at 4 and 8 px on ShanghaiTech,
  JHU, ...). Keys ``*_r4``, ``*_r8`` (a fractional radius ``2.5`` gives ``r2p5``); the headline keys are those of the
  *last* radius in ``radii``. Targets need only ``points``; per-level recall is not reported.

Dataset-level numbers are micro-averaged, as in the reference evaluator: ``P = Σtp / (Σtp + Σfp + 1e-20)``,
``R = Σtp / (Σtp + Σfn + 1e-20)``, ``F1 = 2PR / (P + R + 1e-20)`` (IIM's epsilon; NWPU's ``eval.py`` has none in F1,
which only matters when P = R = 0), ``AR_c = Σtp_c / (Σtp_c + Σfn_c + 1e-20)``. Counting: ``mae = mean |Δ|``,
``mse = sqrt(mean Δ²)`` (the *root* mean square error, named MSE as the field does), ``nae = mean |Δ| / gt`` over the
images whose ground-truth count is positive, with ``Δ = gt_count - pred_count`` and ``gt_count`` the ``num`` field of
the ground-truth file (it can exceed the number of points, see :mod:`iim.metrics.loc_files`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from iim import validation
from iim.metrics.matching import NUM_LEVELS, _match_many

__all__ = ["EPS", "ImageScore", "LocalizationCounts", "MatchingProtocol", "score_image", "score_images"]

EPS = 1e-20
"""The reference evaluator's epsilon in the precision / recall / F1 denominators."""

DEFAULT_RADII = (4.0, 8.0)


def _radius_key(r: float) -> str:
    return "r" + f"{r:g}".replace(".", "p").replace("-", "m")


@dataclass(frozen=True)
class MatchingProtocol:
    """Which radii decide a match.

    Args:
        name: ``"nwpu"`` (per-head ``sigma_s`` and ``sigma_l``) or ``"fixed"`` (the same radius for every head).
        radii: The radii of the ``"fixed"`` protocol, in pixels, distinct and ``>= 0`` (default ``(4, 8)``). Must be
            ``None`` for ``"nwpu"``.

    Example:
        >>> MatchingProtocol("fixed", (4, 8)).suffixes
        ('r4', 'r8')
    """

    name: Literal["nwpu", "fixed"] = "nwpu"
    radii: tuple[float, ...] | None = None
    suffixes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.name == "nwpu":
            if self.radii is not None:
                raise ValueError(
                    f"protocol 'nwpu' uses the per-head sigma_s and sigma_l; `radii` applies only to protocol='fixed', "
                    f"got radii={self.radii}"
                )
            suffixes: tuple[str, ...] = ("s", "l")
        elif self.name == "fixed":
            radii = DEFAULT_RADII if self.radii is None else self.radii
            try:
                radii = tuple(float(r) for r in radii)
            except (TypeError, ValueError) as err:
                raise ValueError(f"`radii` must be a sequence of numbers, got {self.radii!r}") from err
            if not radii or not all(math.isfinite(r) and r >= 0 for r in radii):
                raise ValueError(f"`radii` must be one or more finite radii >= 0 (pixels), got {self.radii!r}")
            suffixes = tuple(_radius_key(r) for r in radii)
            if len(set(suffixes)) != len(suffixes):
                raise ValueError(f"`radii` must be distinct, got {self.radii!r}")
            object.__setattr__(self, "radii", radii)
        else:
            raise ValueError(f"`protocol` must be 'nwpu' or 'fixed', got {self.name!r}")
        object.__setattr__(self, "suffixes", suffixes)

    @property
    def headline(self) -> str:
        """The suffix whose numbers are also reported as plain ``precision`` / ``recall`` / ``f1``."""
        return "l" if self.name == "nwpu" else self.suffixes[-1]

    @property
    def has_levels(self) -> bool:
        """Whether per-level recall is part of the protocol (``"nwpu"`` only)."""
        return self.name == "nwpu"

    def metric_names(self) -> list[str]:
        """The keys of :meth:`LocalizationCounts.summary`, in order."""
        names = ["precision", "recall", "f1"]
        for s in self.suffixes:
            names += [f"precision_{s}", f"recall_{s}", f"f1_{s}"]
        if self.has_levels:
            names += [f"recall_a{k}" for k in range(NUM_LEVELS)] + ["recall_mean"]
        return [*names, "mae", "mse", "nae", "num_images"]


def _target_field(target: Mapping[str, Any], key: str, index: int | None) -> Any:
    where = "target" if index is None else f"targets[{index}]"
    if key not in target:
        raise ValueError(f"{where} has no {key!r}; expected keys 'points', 'sigma_s', 'sigma_l', 'level' (nwpu)")
    return target[key]


@dataclass(frozen=True, eq=False)
class ImageScore:
    """The counts of one image, one row per radius of the protocol.

    Attributes:
        tp: Matched predictions per radius.
        fp: Unmatched predictions per radius.
        fn: Unmatched heads per radius.
        tp_c: Matched heads per radius and level (zeros when the protocol has no levels).
        fn_c: Unmatched heads per radius and level.
        gt_count: The ground-truth count (the ``num`` of the gt file; defaults to the number of points).
        pred_count: The number of predicted points.

    Shape:
        - tp, fp, fn: :math:`(K,)` int64, ``K = len(protocol.suffixes)``
        - tp_c, fn_c: :math:`(K, 6)` int64
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tp_c: np.ndarray
    fn_c: np.ndarray
    gt_count: float
    pred_count: int


def score_image(
    pred: Any, target: Mapping[str, Any], protocol: MatchingProtocol, *, index: int | None = None
) -> ImageScore:
    """Match one image's predictions and return its counts under every radius of ``protocol``.

    Args:
        pred: Predicted points (numpy, list or torch tensor).
        target: ``"points"``; for ``"nwpu"`` also ``"sigma_s"``, ``"sigma_l"`` and ``"level"``; optionally
            ``"count"`` (the ground-truth count for MAE/MSE/NAE, defaults to the number of points).
        protocol: The matching protocol.
        index: The image's position in a batch, only used in error messages.

    Returns:
        The :class:`ImageScore`.

    Shape:
        - pred: :math:`(P, 2)` as (x, y) pixels
        - target["points"]: :math:`(M, 2)` as (x, y) pixels
        - target["sigma_s"], target["sigma_l"], target["level"]: :math:`(M,)`
    """
    where = "target" if index is None else f"targets[{index}]"
    if not isinstance(target, Mapping):
        raise ValueError(f"{where} must be a mapping with 'points' (and sigma_s, sigma_l, level), got {type(target)}")
    pred_a = validation.as_points("pred" if index is None else f"preds[{index}]", pred)
    gt = validation.as_points(f"{where}['points']", _target_field(target, "points", index))
    num_gt = gt.shape[0]
    if protocol.name == "nwpu":
        sigmas = [
            validation.as_radii(f"{where}['{key}']", _target_field(target, key, index), num_gt)
            for key in ("sigma_s", "sigma_l")
        ]
        levels = validation.as_levels(f"{where}['level']", _target_field(target, "level", index), num_gt, NUM_LEVELS)
    else:
        sigmas = [np.full(num_gt, r, dtype=np.float64) for r in protocol.radii or ()]
        levels = None
    k = len(protocol.suffixes)
    tp = np.zeros(k, np.int64)
    fp = np.zeros(k, np.int64)
    fn = np.zeros(k, np.int64)
    tp_c = np.zeros((k, NUM_LEVELS), np.int64)
    fn_c = np.zeros((k, NUM_LEVELS), np.int64)
    for i, result in enumerate(_match_many(pred_a, gt, sigmas)):
        tp[i], fp[i], fn[i] = result.tp, result.fp, result.fn
        if levels is not None:
            tp_c[i], fn_c[i] = result.level_counts(levels)
    count = target.get("count")
    if count is None:
        gt_count: float = num_gt
    else:
        count = validation.to_numpy(count)
        try:
            gt_count = float(np.asarray(count).item())
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}['count'] must be one number (the ground-truth count), got {count!r}") from err
        if not (math.isfinite(gt_count) and gt_count >= 0):
            raise ValueError(f"{where}['count'] must be finite and >= 0, got {gt_count}")
    return ImageScore(tp=tp, fp=fp, fn=fn, tp_c=tp_c, fn_c=fn_c, gt_count=gt_count, pred_count=pred_a.shape[0])


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


@dataclass
class LocalizationCounts:
    """Counts summed over images (the state of :class:`~iim.metrics.LocalizationMetrics`, as numpy).

    Attributes:
        tp: Summed matches per radius.
        fp: Summed unmatched predictions per radius.
        fn: Summed unmatched heads per radius.
        tp_c: Summed matched heads per radius and level.
        fn_c: Summed unmatched heads per radius and level.
        abs_err: Σ |gt_count - pred_count|.
        sq_err: Σ (gt_count - pred_count)².
        nae_sum: Σ |gt_count - pred_count| / gt_count over images with gt_count > 0.
        nae_images: Number of images with gt_count > 0.
        num_images: Number of images.

    Shape:
        - tp, fp, fn: :math:`(K,)` int64
        - tp_c, fn_c: :math:`(K, 6)` int64
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tp_c: np.ndarray
    fn_c: np.ndarray
    abs_err: float = 0.0
    sq_err: float = 0.0
    nae_sum: float = 0.0
    nae_images: int = 0
    num_images: int = 0

    @classmethod
    def zeros(cls, num_radii: int) -> LocalizationCounts:
        """Empty counts for a protocol with ``num_radii`` radii."""
        return cls(
            tp=np.zeros(num_radii, np.int64),
            fp=np.zeros(num_radii, np.int64),
            fn=np.zeros(num_radii, np.int64),
            tp_c=np.zeros((num_radii, NUM_LEVELS), np.int64),
            fn_c=np.zeros((num_radii, NUM_LEVELS), np.int64),
        )

    def add(self, score: ImageScore) -> None:
        """Add one image."""
        self.tp += score.tp
        self.fp += score.fp
        self.fn += score.fn
        self.tp_c += score.tp_c
        self.fn_c += score.fn_c
        err = abs(score.gt_count - score.pred_count)
        self.abs_err += err
        self.sq_err += err * err
        if score.gt_count > 0:
            self.nae_sum += err / score.gt_count
            self.nae_images += 1
        self.num_images += 1

    def summary(self, protocol: MatchingProtocol) -> dict[str, float]:
        """The dataset-level metrics (micro-averaged), keys as :meth:`MatchingProtocol.metric_names`.

        Ratios with nothing to average (``mae`` of zero images, ``nae`` with no positive count) are NaN.
        """
        out: dict[str, float] = {}
        per: dict[str, tuple[float, float, float]] = {}
        for i, s in enumerate(protocol.suffixes):
            tp, fp, fn = float(self.tp[i]), float(self.fp[i]), float(self.fn[i])
            p = tp / (tp + fp + EPS)
            r = tp / (tp + fn + EPS)
            per[s] = (p, r, 2 * p * r / (p + r + EPS))
        out["precision"], out["recall"], out["f1"] = per[protocol.headline]
        for s, (p, r, f) in per.items():
            out[f"precision_{s}"], out[f"recall_{s}"], out[f"f1_{s}"] = p, r, f
        if protocol.has_levels:
            h = protocol.suffixes.index(protocol.headline)
            ar = self.tp_c[h] / (self.tp_c[h] + self.fn_c[h] + EPS)
            for k in range(NUM_LEVELS):
                out[f"recall_a{k}"] = float(ar[k])
            out["recall_mean"] = float(ar.mean())
        out["mae"] = _ratio(self.abs_err, self.num_images)
        mse = _ratio(self.sq_err, self.num_images)
        out["mse"] = math.sqrt(mse) if mse == mse else math.nan
        out["nae"] = _ratio(self.nae_sum, self.nae_images)
        out["num_images"] = float(self.num_images)
        return out

    def as_dict(self, protocol: MatchingProtocol) -> dict[str, Any]:
        """The raw counts, JSON-ready: ``tp_s``, ``fp_s``, ..., ``tp_c_l`` (list of 6), ..., ``num_images``."""
        out: dict[str, Any] = {}
        for i, s in enumerate(protocol.suffixes):
            out[f"tp_{s}"], out[f"fp_{s}"], out[f"fn_{s}"] = int(self.tp[i]), int(self.fp[i]), int(self.fn[i])
            if protocol.has_levels:
                out[f"tp_c_{s}"] = self.tp_c[i].tolist()
                out[f"fn_c_{s}"] = self.fn_c[i].tolist()
        out.update(
            abs_err=self.abs_err,
            sq_err=self.sq_err,
            nae_sum=self.nae_sum,
            nae_images=self.nae_images,
            num_images=self.num_images,
        )
        return out


def score_images(
    preds: Sequence[Any], targets: Sequence[Mapping[str, Any]], protocol: MatchingProtocol
) -> list[ImageScore]:
    """:func:`score_image` over a batch, checking that both lists have the same length."""
    if len(preds) != len(targets):
        raise ValueError(f"`preds` and `targets` must have one entry per image, got {len(preds)} and {len(targets)}")
    return [score_image(p, t, protocol, index=i) for i, (p, t) in enumerate(zip(preds, targets))]
