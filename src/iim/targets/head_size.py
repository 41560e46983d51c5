"""Head boxes for point-only datasets (ShanghaiTech, UCF-QNRF) from nearest-neighbour distances.

The original code sized these heads with a scale-prediction network (``Res50_SCAR``) trained on NWPU-Crowd boxes,
whose weights are not available. Here the size comes from the crowd itself, as in geometry-adaptive density kernels:
a head's box is a square whose side is ``factor`` times the mean distance to its ``k`` nearest annotated
neighbours, clipped to ``[min_side, max_side]``:

    side_i = clip(factor * mean_{j in kNN(i)} |p_i - p_j|, min_side, max_side)

Defaults and why:

- ``k=3``: the usual geometry-adaptive choice; robust to one very close neighbour (a duplicate click).
- ``factor=1.0``: calibrated on the NWPU-Crowd validation ground truth (``val_gt_loc.txt``, from annotated boxes,
  ~196k heads). Taking a head's side as ``sqrt(short * long)`` with ``short ~ 2 sigma_s + 1`` and the diagonal
  ``~ 2 sigma_l + 1``, the ratio side / mean 3-NN distance has a median of 0.72 over all NWPU heads but 0.96 when the
  NWPU heads are weighted to ShanghaiTech Part A's distribution of 3-NN distances (median 14 px): in dense crowds
  neighbouring heads nearly touch, so the side is about the spacing. The ratio falls in sparse scenes (heads are not
  larger because people stand apart), which ``max_side`` caps.
- ``min_side=8.0``: the original's scale model never gave a side below 7 px (``int(sqrt(exp(4)))``); a side of 8
  helped a first CPU training probe (tiny heads were missed with smaller boxes).
- ``max_side=64.0``: beyond this the spacing says nothing about head size; the instance map caps half-sizes at 25
  (a 50 px side) anyway, so this mainly bounds the GT-loc sigmas of sparse heads.
- ``default_side=32.0``: a head with no neighbour at all (a one-person image).

Points are first clipped into the image (``0 <= x <= W - 1``, ``0 <= y <= H - 1``) and boxes are clipped to the
same range, as the original writer did (``max(int(x - L / 2), 0)``, ``min(int(x + L / 2), W - 1)``; here without
the integer truncation). So a box at the border is cut and its centre moves inwards, which keeps border heads in the
instance map (whose original rule drops heads centred on row or column 0).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from iim import validation

__all__ = ["estimate_head_sides", "points_to_boxes"]


def estimate_head_sides(
    points: np.ndarray,
    *,
    k: int = 3,
    factor: float = 1.0,
    min_side: float = 8.0,
    max_side: float = 64.0,
    default_side: float = 32.0,
) -> np.ndarray:
    """Head side lengths from the mean distance to the ``k`` nearest neighbours (see the module docstring).

    Args:
        points: Head points ``x, y`` (pixels).
        k: Number of nearest neighbours averaged (fewer when the image has fewer than ``k + 1`` heads).
        factor: Side per unit of mean neighbour distance.
        min_side: Smallest side.
        max_side: Largest side.
        default_side: Side of a head alone in its image (clipped to ``[min_side, max_side]`` too).

    Returns:
        One side length per point.

    Raises:
        ValueError: If ``points`` is not ``(N, 2)`` or not finite, if ``k`` is not a positive integer, if a size
            parameter is not a positive number, or if ``min_side > max_side``.

    Shape:
        - points: :math:`(N, 2)` x, y pixels
        - output: :math:`(N,)` float64
    """
    fn = "estimate_head_sides"
    p = validation.as_points(f"{fn}: `points`", points)
    k = validation.positive_int(f"{fn}: `k`", k)
    factor = validation.positive_float(f"{fn}: `factor`", factor)
    min_side = validation.positive_float(f"{fn}: `min_side`", min_side)
    max_side = validation.positive_float(f"{fn}: `max_side`", max_side)
    default_side = validation.positive_float(f"{fn}: `default_side`", default_side)
    if min_side > max_side:
        raise ValueError(f"{fn}: `min_side` ({min_side}) must be <= `max_side` ({max_side})")
    n = p.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if n == 1:
        return np.full(1, min(max(default_side, min_side), max_side))
    kk = min(k, n - 1)
    dist, _ = cKDTree(p).query(p, k=kk + 1)
    # Column 0 is the point itself (or a duplicate at distance 0, which is the same distance).
    mean_nn = np.asarray(dist, dtype=np.float64).reshape(n, kk + 1)[:, 1:].mean(axis=1)
    return np.clip(factor * mean_nn, min_side, max_side)


def points_to_boxes(
    points: np.ndarray,
    height: int,
    width: int,
    *,
    k: int = 3,
    factor: float = 1.0,
    min_side: float = 8.0,
    max_side: float = 64.0,
    default_side: float = 32.0,
) -> np.ndarray:
    """Square head boxes around annotated points, sized by :func:`estimate_head_sides` and clipped to the image.

    Args:
        points: Head points ``x, y`` in 0-based pixel coordinates (subtract 1 from MATLAB's 1-based ``.mat``
            points first).
        height: Image height in pixels.
        width: Image width in pixels.
        k: Number of nearest neighbours averaged.
        factor: Side per unit of mean neighbour distance.
        min_side: Smallest side (before clipping to the image).
        max_side: Largest side.
        default_side: Side of a head alone in its image.

    Returns:
        Boxes ``x1, y1, x2, y2``: a square of the estimated side centred on the point (clipped into the image),
        then clipped to ``[0, W - 1] x [0, H - 1]``. Ready for :func:`~iim.targets.boxes_to_instance_map` and
        :func:`~iim.targets.sigmas_and_levels`.

    Raises:
        ValueError: On malformed arguments (see :func:`estimate_head_sides`), or if ``height`` or ``width`` is not
            a positive integer.

    Shape:
        - points: :math:`(N, 2)` x, y pixels
        - output: :math:`(N, 4)` float64 xyxy pixels

    Example:
        >>> points_to_boxes([[50.0, 40.0]], 100, 100)
        array([[34., 24., 66., 56.]])
    """
    fn = "points_to_boxes"
    p = validation.as_points(f"{fn}: `points`", points)
    height = validation.positive_int(f"{fn}: `height`", height)
    width = validation.positive_int(f"{fn}: `width`", width)
    hi = np.array([width - 1, height - 1], dtype=np.float64)
    p = np.clip(p, 0.0, hi)
    side = estimate_head_sides(p, k=k, factor=factor, min_side=min_side, max_side=max_side, default_side=default_side)
    half = (side / 2)[:, None]
    return np.concatenate([np.clip(p - half, 0.0, hi), np.clip(p + half, 0.0, hi)], axis=1)
