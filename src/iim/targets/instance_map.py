"""Independent instance maps: the binary training target of IIM, one rectangle per head, built from head boxes.

IIM (Gao et al., "Learning Independent Instance Maps for Crowd Localization", arXiv 2012.04164) trains its
confidence map against a binary map in which every head is a blob of its own, so that 4-connected components of the
prediction recover the heads. The original code (``generate_masks`` in ``datasets/dataset_prepare/prepare_NWPU.py``,
the same in the QNRF/JHU scripts) builds that map from head boxes:

1. each box becomes a rectangle around its truncated centre ``c = int((x1 + x2) / 2), int((y1 + y2) / 2)`` with
   half-sizes ``int(max(w / 2, 3))``, ``int(max(h / 2, 3))`` capped at ``max_half_size`` (25 for NWPU, ShanghaiTech;
   15 for UCF-QNRF, JHU-Crowd++);
2. heads are visited in order; each is compared with its 4 nearest neighbours (by centre distance) and, while the
   two rectangles are not yet separated by about half a half-size (at most 60 px) in at least one axis, the larger
   of the two (the head itself on a tie) shrinks by 0.9, never below 2, for at most 41 steps; the neighbour after
   the 4th also shrinks when it is larger than both and comes within 3 px;
3. every head whose centre lies strictly inside the image (row and column 0 excluded) paints
   ``[cy - hh, cy + hh) x [cx - hw, cx + hw)`` (clipped to the image).

Modes:

- ``"original"``: exactly the steps above (the reference cases of ``docs/method.md`` section 12 are reproduced pixel
  for pixel). The shrink stops at half-size 2, i.e. 4 px rectangles, which still touch when two centres are 4 px or
  less apart on both axes, so in dense crowds several heads share one 4-connected component. On the ShanghaiTech
  Part A training set (x1, boxes from :func:`~iim.targets.points_to_boxes`) 12.4 % of the heads lose their
  independence this way (1.2 % at x2, the resolution the original trained at; Part B: 7.7 % and 0.8 %); every one of
  them has another head within 4 px, and the figure hardly moves with the box sizes (12.3-12.4 % for
  ``points_to_boxes`` factors 0.5-1.0). ``benchmarks/measure_merged_heads.py`` prints the table.
- ``"separate"`` (the **default**): the original's rectangles, then every pair that still overlaps or touches is cut
  apart by a background row or column between the two centres (on the axis that costs fewer pixels), so every kept
  head is its own component under 4- and 8-connectivity and keeps its centre pixel. Two heads whose centre pixels
  coincide or are 8-adjacent cannot both do that: the larger rectangle stays and its clashing neighbours are dropped
  (0.18 % of the heads of ShanghaiTech Part A at x1, 0.06 % at x2). Rectangles that neither overlap nor touch (not
  even at a corner) are left as they are, so the map differs from the original only around heads that merged there.

The default is ``"separate"`` because a target whose components are not the heads teaches the network to merge
exactly the dense heads the method exists to separate (each merged component is a counting and localisation error
of the target itself, and the evaluation recovers heads as 4-connected components), while away from such clashes the
target is the original's, pixel for pixel. The original behaviour is one argument away: ``mode="original"``.

Neighbour ties: the original orders neighbours with ``np.argsort`` over the distances, whose order among equal
distances is not specified (it depends on the numpy version and the CPU's sort kernels). Here neighbours come from a
compiled grid search (:mod:`iim.targets._kernels`) and equal (integer, exact) squared distances are broken by the
lower head index, which is what ``np.argsort(..., kind="stable")`` gives. On the densest ShanghaiTech Part A image
the original's default argsort changes 192 of 540,000 pixels against the stable order
(``benchmarks/bench_targets.py``). Two more deviations: where a head's neighbour list has no entry after the 4th
(fewer than 6 heads) the next-neighbour rule is skipped (the original raises ``IndexError`` there), and the rule's
switch ``human_num >= 3`` reads the number of boxes.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from iim import validation
from iim.targets import _kernels

__all__ = ["InstanceLayout", "InstanceMode", "boxes_to_instance_map", "instance_layout"]

InstanceMode = Literal["separate", "original"]
_MODES = ("separate", "original")


class InstanceLayout(NamedTuple):
    """The per-head result behind an instance map.

    Attributes:
        centers: Truncated box centres ``(int((x1 + x2) / 2), int((y1 + y2) / 2))``, the rectangles' centres.
        half_sizes: Half-sizes ``(hw, hh)`` after the original's cap and greedy shrink (before any image clipping
            or separation).
        rects: The painted rectangles ``(x0, y0, x1, y1)``, half-open (``x1``, ``y1`` excluded), clipped to the
            image; ``(0, 0, 0, 0)`` for a head that paints nothing (centre on row/column 0 or outside the image,
            or dropped by ``mode="separate"``).
        kept: Whether the head paints a rectangle.

    Shape:
        - centers: :math:`(N, 2)` int64, x, y
        - half_sizes: :math:`(N, 2)` int64, hw, hh
        - rects: :math:`(N, 4)` int64, x0, y0, x1, y1
        - kept: :math:`(N,)` bool
    """

    centers: np.ndarray
    half_sizes: np.ndarray
    rects: np.ndarray
    kept: np.ndarray


def instance_layout(
    boxes: np.ndarray,
    height: int,
    width: int,
    max_half_size: int = 25,
    *,
    mode: InstanceMode = "separate",
) -> InstanceLayout:
    """Per-head rectangles of the independent instance map (see the module docstring for the algorithm).

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in 0-based pixel coordinates (floats are fine; ``x2 >= x1``,
            ``y2 >= y1``). Heads outside the image still act as neighbours but paint nothing.
        height: Image height in pixels.
        width: Image width in pixels.
        max_half_size: Cap on the half-sizes before shrinking: 25 for NWPU-Crowd and ShanghaiTech, 15 for
            UCF-QNRF and JHU-Crowd++ (as the original; the ``mask_50_60`` / ``mask_30_60`` folders).
        mode: ``"separate"`` (default) guarantees one 4-connected component per kept head; ``"original"`` is the
            original code's map, where dense heads may merge.

    Returns:
        An :class:`InstanceLayout` (centres, shrunk half-sizes, painted rectangles, kept flags).

    Raises:
        ValueError: If ``boxes`` is not ``(N, 4)``, has NaN/inf or a negative size, if ``height``, ``width`` or
            ``max_half_size`` is not a positive integer, or if ``mode`` is unknown.

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: see :class:`InstanceLayout`
    """
    cx, cy, wh, rects, kept = _checked_layout(boxes, height, width, max_half_size, mode, "instance_layout")
    return InstanceLayout(np.stack([cx, cy], axis=1), wh, rects, kept)


def _checked_layout(
    boxes: object,
    height: object,
    width: object,
    max_half_size: object,
    mode: object,
    fn: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the arguments, then the compiled layout: centres x, y, half-sizes, rectangles, kept flags."""
    b = validation.as_boxes(f"{fn}: `boxes`", boxes)
    height = validation.positive_int(f"{fn}: `height`", height)
    width = validation.positive_int(f"{fn}: `width`", width)
    max_half_size = validation.positive_int(f"{fn}: `max_half_size`", max_half_size)
    if mode not in _MODES:
        raise ValueError(f"{fn}: `mode` must be one of {_MODES}, got {mode!r}")
    return _kernels.layout(b, max_half_size, height, width, mode == "separate")


def boxes_to_instance_map(
    boxes: np.ndarray,
    height: int,
    width: int,
    max_half_size: int = 25,
    *,
    mode: InstanceMode = "separate",
) -> np.ndarray:
    """The independent instance map (IIM's binary training target) of one image.

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in 0-based pixel coordinates.
        height: Image height in pixels.
        width: Image width in pixels.
        max_half_size: Half-size cap: 25 (NWPU-Crowd, ShanghaiTech) or 15 (UCF-QNRF, JHU-Crowd++).
        mode: ``"separate"`` (default: one component per head) or ``"original"`` (the original code's map).

    Returns:
        ``True`` on heads. Empty ``boxes`` give an all-``False`` map.

    Raises:
        ValueError: On malformed arguments (see :func:`instance_layout`).

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: :math:`(H, W)` bool

    Example:
        >>> m = boxes_to_instance_map([[10, 10, 30, 30], [60, 10, 80, 30]], 100, 100)
        >>> m.shape, int(m.sum())
        ((100, 100), 800)
    """
    rects = _checked_layout(boxes, height, width, max_half_size, mode, "boxes_to_instance_map")[3]
    mask = np.zeros((int(height), int(width)), dtype=bool)
    _kernels.paint(mask, rects)
    return mask
