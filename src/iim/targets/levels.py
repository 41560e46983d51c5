"""Per-head sigmas and size levels of the official localisation ground truth (``val_gt_loc.txt``).

The NWPU-Crowd evaluation (and IIM's ``loc_gt_make`` for the other datasets) describes every head by its centre, two
match radii and a size level, all integers computed from its box ``(x1, y1, x2, y2)``:

- coordinates are truncated first (``int(x1)``, ...), then ``w = x2 - x1``, ``h = y2 - y1``,
  centre ``(int((x1 + x2) / 2), int((y1 + y2) / 2))``;
- ``sigma_s = int(min(w, h) / 2)`` (the strict radius) and ``sigma_l = int(sqrt(w^2 + h^2) / 2)`` (the loose one);
- ``level`` bins the area ``w * h``: 0 for ``[1, 10)``, 1 for ``(10, 100)``, 2 for ``(100, 1000)``,
  3 for ``(1e3, 1e4)``, 4 for ``(1e4, 1e5)``, 5 for ``> 1e5``. The bounds are strict, so an area of exactly
  10, 100, 1000, 10000 or 100000 falls through to level 0, as in the official code;
- boxes of area 0 are left out of the line, while the head count still includes them.

For integer boxes (the official files) truncating the coordinates first changes nothing; for float boxes it is what
the writer did with the integer coordinates of its JSON files.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from iim import validation

__all__ = ["LEVEL_BOUNDS", "SigmasAndLevels", "format_gt_loc_line", "sigmas_and_levels"]

#: Level ``i >= 1`` holds areas strictly between ``LEVEL_BOUNDS[i - 1]`` and ``LEVEL_BOUNDS[i]``; level 5 is above 1e5.
LEVEL_BOUNDS = (10, 100, 1_000, 10_000, 100_000)


class SigmasAndLevels(NamedTuple):
    """Per-head values of a GT-loc line.

    Attributes:
        sigma_s: Strict radius ``int(min(w, h) / 2)``.
        sigma_l: Loose radius ``int(sqrt(w^2 + h^2) / 2)``.
        level: Area level 0-5 (exact powers of ten give 0).
        center: ``(int((x1 + x2) / 2), int((y1 + y2) / 2))`` of the truncated box.
        zero_area: Boxes with ``w * h == 0``, which the official writer skips.

    Shape:
        - sigma_s, sigma_l, level: :math:`(N,)` int64
        - center: :math:`(N, 2)` int64, x, y
        - zero_area: :math:`(N,)` bool
    """

    sigma_s: np.ndarray
    sigma_l: np.ndarray
    level: np.ndarray
    center: np.ndarray
    zero_area: np.ndarray


def sigmas_and_levels(boxes: np.ndarray) -> SigmasAndLevels:
    """Sigmas, levels and centres of head boxes exactly as the official GT-loc writer computes them.

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in pixels (``x2 >= x1``, ``y2 >= y1``).

    Returns:
        A :class:`SigmasAndLevels`; ``sigma_s, sigma_l, level = sigmas_and_levels(b)[:3]``.

    Raises:
        ValueError: If ``boxes`` is not ``(N, 4)``, has NaN/inf, or a negative size.

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: see :class:`SigmasAndLevels`

    Example:
        >>> r = sigmas_and_levels([[100, 100, 130, 135]])
        >>> r.center.tolist(), r.sigma_s.tolist(), r.sigma_l.tolist(), r.level.tolist()
        ([[115, 117]], [15], [23], [3])
    """
    b = np.trunc(validation.as_boxes("sigmas_and_levels: `boxes`", boxes)).astype(np.int64)
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    area = w * h
    center = np.stack([np.trunc((b[:, 0] + b[:, 2]) / 2), np.trunc((b[:, 1] + b[:, 3]) / 2)], axis=1).astype(np.int64)
    sigma_s = np.trunc(np.minimum(w, h) / 2).astype(np.int64)
    sigma_l = np.trunc(np.sqrt((w * w + h * h).astype(np.float64)) / 2).astype(np.int64)
    lo = np.array(LEVEL_BOUNDS)  # level i in 1..5 is lo[i - 1] < area < hi[i - 1]
    hi = np.array((*LEVEL_BOUNDS[1:], np.iinfo(np.int64).max))
    inside = (area[:, None] > lo) & (area[:, None] < hi)  # strict on both ends: powers of ten stay at level 0
    level = (inside * np.arange(1, len(LEVEL_BOUNDS) + 1)).sum(axis=1).astype(np.int64)
    return SigmasAndLevels(sigma_s, sigma_l, level, center, area == 0)


def format_gt_loc_line(image_id: str | int, boxes: np.ndarray) -> str:
    """One line of a GT-loc file: ``id num`` then ``x y sigma_s sigma_l level`` per head of non-zero area.

    ``num`` counts every box, zero-area ones included, as the official writer does.

    Args:
        image_id: The image id written first (e.g. ``"3110"``).
        boxes: Head boxes ``x1, y1, x2, y2`` in pixels.

    Returns:
        The space-separated line, without a newline.

    Raises:
        ValueError: On malformed ``boxes`` (see :func:`sigmas_and_levels`).

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels

    Example:
        >>> format_gt_loc_line(3110, [[100, 100, 130, 135], [5, 5, 5, 9]])
        '3110 2 115 117 15 23 3'
    """
    r = sigmas_and_levels(boxes)
    keep = ~r.zero_area
    cols = np.stack([r.center[:, 0], r.center[:, 1], r.sigma_s, r.sigma_l, r.level], axis=1)[keep]
    return " ".join([str(image_id), str(len(r.level)), *map(str, cols.ravel().tolist())])
