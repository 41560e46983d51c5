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

Rescaled copies of one image (training's random scales): :func:`neighbour_hints` finds each head's nearest
candidates once; a map built with them (``hints=``, ``hint_scale=``) ranks only those where that is provably exact
and searches the rest as before, so it equals the map built without (on ShanghaiTech Part A the neighbour search
goes from 0.2 to 0.03 ms per 512 x 1024 sample; :class:`iim.data.CrowdDataset` keeps the hints per image).
"""

from __future__ import annotations

import operator
from typing import Literal, NamedTuple

import numpy as np

from iim.targets import _kernels
from iim.targets._checks import as_boxes, check_positive_float, check_positive_int

__all__ = [
    "InstanceLayout",
    "InstanceMode",
    "NeighbourHints",
    "boxes_to_instance_labels",
    "boxes_to_instance_map",
    "instance_layout",
    "neighbour_hints",
]

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


class NeighbourHints(NamedTuple):
    """Each head's nearest neighbours, found once, to build instance maps of the same heads rescaled many times.

    The layout ranks every head's 4 (+1) nearest neighbours; a training pipeline builds it anew for every random
    scale of the same image. With hints made once from the image's own boxes (:func:`neighbour_hints`), each head
    only ranks its listed candidates, and keeps that answer when it is provably exact: when its farthest needed
    neighbour is nearer than ``reach`` times the scale, less what the truncation of the centres can move, no head
    left out can come closer. Heads where that does not hold (the densest clusters) are searched as without hints,
    so a map built with hints is always identical to one built without.

    Attributes:
        candidates: The nearest other heads of each head, nearest first (``-1`` pads; the head itself not listed).
        reach: Every head not listed is at least this far (px, between exact box centres; ``inf``: none is left
            out).

    Shape:
        - candidates: :math:`(N, K)` int32
        - reach: :math:`(N,)` float64
    """

    candidates: np.ndarray
    reach: np.ndarray


def neighbour_hints(boxes: np.ndarray, n_candidates: int = 16) -> NeighbourHints:
    """:class:`NeighbourHints` for ``boxes``: each head's ``n_candidates`` nearest heads and its reach.

    Pass them with boxes moved from these by a scale (per axis), a flip and a shift (e.g. a random scale and crop):
    ``boxes_to_instance_map(moved, ..., hints=hints, hint_scale=s)`` with ``s`` at most the absolute scale on each
    axis. 16 candidates leave 0.3 % of the heads of ShanghaiTech Part A to the full search at scales 0.8-1.2.

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in pixels.
        n_candidates: Candidates kept per head (memory: 4 bytes each).

    Raises:
        ValueError: If ``boxes`` is malformed (see :func:`instance_layout`) or ``n_candidates`` not a positive int.

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: see :class:`NeighbourHints`
    """
    b = as_boxes(boxes, "neighbour_hints")
    k = check_positive_int(n_candidates, "neighbour_hints", "n_candidates")
    return NeighbourHints(*_kernels.neighbour_hints(b, k))


def _check_hints(hints: object, hint_scale: object, n: int, fn: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The hints' arrays as the kernels take them, checked against ``n`` heads (no hints: empty arrays)."""
    if hints is None:
        return _kernels.NO_CANDIDATES, _kernels.NO_REACH, 1.0
    if not isinstance(hints, NeighbourHints):
        raise ValueError(f"{fn}: `hints` must be NeighbourHints (from neighbour_hints), got {type(hints).__name__}")
    scale = check_positive_float(hint_scale, fn, "hint_scale")
    cands = np.ascontiguousarray(hints.candidates, dtype=np.int32)
    reach = np.ascontiguousarray(hints.reach, dtype=np.float64)
    if cands.ndim != 2 or cands.shape[0] != n or cands.shape[1] < 1 or reach.shape != (n,):
        raise ValueError(
            f"{fn}: `hints` are for other heads: candidates {cands.shape} and reach {reach.shape}, expected (N, K) "
            f"and (N,) with N = {n} boxes"
        )
    own = np.arange(n, dtype=np.int32)[:, None]
    ordered = np.sort(cands, axis=1)
    repeated = ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any()
    if n and (cands.min() < -1 or cands.max() >= n or (cands == own).any() or repeated or np.isnan(reach).any()):
        raise ValueError(
            f"{fn}: `hints` are malformed (candidates must be other heads' indices, each once, or -1; reach a number)"
        )
    return cands, reach, scale


def _neighbour_order(cx: np.ndarray, cy: np.ndarray, width: int) -> np.ndarray:
    """For each head, the ``width`` nearest heads (itself first), sorted by (squared distance, index); -1 pads.

    Exact: distances are compared as integer squared distances (a compiled grid search that stops only when every
    head not yet seen is strictly farther, so that no tie is missed).

    Shape:
        - cx, cy: :math:`(N,)` int64
        - output: :math:`(N, width)` int64
    """
    return _kernels.neighbour_order(
        np.ascontiguousarray(cx, dtype=np.int64), np.ascontiguousarray(cy, dtype=np.int64), int(width)
    )


def instance_layout(
    boxes: np.ndarray,
    height: int,
    width: int,
    max_half_size: int = 25,
    *,
    mode: InstanceMode = "separate",
    hints: NeighbourHints | None = None,
    hint_scale: float = 1.0,
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
        hints: :func:`neighbour_hints` of the boxes these were moved from (faster; the same result), or ``None``.
        hint_scale: The smallest absolute scale, over both axes, from the hinted boxes to ``boxes``.

    Returns:
        An :class:`InstanceLayout` (centres, shrunk half-sizes, painted rectangles, kept flags).

    Raises:
        ValueError: If ``boxes`` is not ``(N, 4)``, has NaN/inf or a negative size, if ``height``, ``width`` or
            ``max_half_size`` is not a positive integer, if ``mode`` is unknown, or if ``hints`` are not for
            ``len(boxes)`` heads.

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: see :class:`InstanceLayout`
    """
    cx, cy, wh, rects, kept = _checked_layout(
        boxes, height, width, max_half_size, mode, "instance_layout", hints, hint_scale
    )
    return InstanceLayout(np.stack([cx, cy], axis=1), wh, rects, kept)


def _checked_layout(
    boxes: object,
    height: object,
    width: object,
    max_half_size: object,
    mode: object,
    fn: str,
    hints: object = None,
    hint_scale: object = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the arguments, then the compiled layout: centres x, y, half-sizes, rectangles, kept flags."""
    b = as_boxes(boxes, fn)
    height = check_positive_int(height, fn, "height")
    width = check_positive_int(width, fn, "width")
    max_half_size = check_positive_int(max_half_size, fn, "max_half_size")
    if mode not in _MODES:
        raise ValueError(f"{fn}: `mode` must be one of {_MODES}, got {mode!r}")
    cands, reach, scale = _check_hints(hints, hint_scale, len(b), fn)
    return _kernels.layout(b, max_half_size, height, width, mode == "separate", cands, reach, scale)


def _layout_rects(
    boxes: object, height: object, width: object, max_half_size: object, mode: object, fn: str
) -> np.ndarray:
    """The painted rectangles ``(N, 4)`` of the layout."""
    return _checked_layout(boxes, height, width, max_half_size, mode, fn)[3]


def boxes_to_instance_map(
    boxes: np.ndarray,
    height: int,
    width: int,
    max_half_size: int = 25,
    *,
    mode: InstanceMode = "separate",
    window: tuple[int, int, int, int] | None = None,
    hints: NeighbourHints | None = None,
    hint_scale: float = 1.0,
) -> np.ndarray:
    """The independent instance map (IIM's binary training target) of one image, or a window of it.

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in 0-based pixel coordinates.
        height: Image height in pixels.
        width: Image width in pixels.
        max_half_size: Half-size cap: 25 (NWPU-Crowd, ShanghaiTech) or 15 (UCF-QNRF, JHU-Crowd++).
        mode: ``"separate"`` (default: one component per head) or ``"original"`` (the original code's map).
        window: ``(x0, y0, x1, y1)``, half-open, in the map's pixel coordinates: return only that part of the map,
            i.e. ``full[y0:y1, x0:x1]`` where the window may reach outside the map (those pixels are ``False``).
            The layout is still computed over the whole ``height`` x ``width`` image with every box, so the window
            is exactly the crop of the full map, without painting (or allocating) the rest. ``None``: the whole map.
        hints: :func:`neighbour_hints` of the boxes these were moved from (faster; the same map), or ``None``.
        hint_scale: The smallest absolute scale, over both axes, from the hinted boxes to ``boxes``.

    Returns:
        ``True`` on heads. Empty ``boxes`` give an all-``False`` map.

    Raises:
        ValueError: On malformed arguments (see :func:`instance_layout`), or an empty or malformed ``window``.

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: :math:`(H, W)` bool, or :math:`(y_1 - y_0, x_1 - x_0)` with a ``window``

    Example:
        >>> m = boxes_to_instance_map([[10, 10, 30, 30], [60, 10, 80, 30]], 100, 100)
        >>> m.shape, int(m.sum())
        ((100, 100), 800)
        >>> boxes_to_instance_map([[10, 10, 30, 30]], 100, 100, window=(-5, 20, 15, 40)).sum(axis=0)[:16].tolist()
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10]
    """
    fn = "boxes_to_instance_map"
    rects = _checked_layout(boxes, height, width, max_half_size, mode, fn, hints, hint_scale)[3]
    if window is None:
        x0, y0, x1, y1 = 0, 0, int(width), int(height)
    else:
        x0, y0, x1, y1 = _check_window(window, "boxes_to_instance_map")
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    _kernels.paint_window(mask, rects, x0, y0)
    return mask


def _check_window(window: object, fn: str) -> tuple[int, int, int, int]:
    try:
        values = [operator.index(v) for v in window]  # type: ignore[attr-defined]
    except TypeError as err:
        raise ValueError(f"{fn}: `window` must be 4 integers (x0, y0, x1, y1), got {window!r}") from err
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"{fn}: `window` must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {window!r}")
    x0, y0, x1, y1 = values
    return x0, y0, x1, y1


def boxes_to_instance_labels(
    boxes: np.ndarray,
    height: int,
    width: int,
    max_half_size: int = 25,
    *,
    mode: InstanceMode = "separate",
) -> np.ndarray:
    """The instance map with head ids: pixel value ``i + 1`` for head ``i``, 0 for background.

    ``labels > 0`` equals :func:`boxes_to_instance_map` with the same arguments. With ``mode="separate"`` each kept
    head owns exactly its rectangle; with ``mode="original"`` overlapping rectangles are painted in index order, so
    a later head overwrites an earlier one (and a head can vanish under its neighbours).

    Args:
        boxes: Head boxes ``x1, y1, x2, y2`` in 0-based pixel coordinates.
        height: Image height in pixels.
        width: Image width in pixels.
        max_half_size: Half-size cap: 25 (NWPU-Crowd, ShanghaiTech) or 15 (UCF-QNRF, JHU-Crowd++).
        mode: ``"separate"`` (default) or ``"original"``.

    Returns:
        The label map.

    Raises:
        ValueError: On malformed arguments (see :func:`instance_layout`).

    Shape:
        - boxes: :math:`(N, 4)` xyxy pixels
        - output: :math:`(H, W)` int32
    """
    rects = _layout_rects(boxes, height, width, max_half_size, mode, "boxes_to_instance_labels")
    labels = np.zeros((height, width), dtype=np.int32)
    _kernels.paint_labels(labels, rects)
    return labels
