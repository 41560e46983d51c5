"""Compiled (numba) kernels behind :mod:`iim.targets.instance_map` (private).

Everything here is sequential by nature (the original's greedy shrink visits the heads one after another and each
step sees the sizes the previous steps left) or a tight pixel loop, so it is compiled once (``cache=True``: the
machine code is stored beside this file and reused by later processes) instead of being vectorised.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []

# The original's constants (``prepare_NWPU.generate_masks``; QNRF and JHU use the same with another cap).
SHRINK = 0.9  # each shrink step multiplies both half-sizes by 0.9 (truncated)
MIN_HALF = 2  # ... but never below 2
GAP_CAP = -60  # the required gap, in pixels, is at most 60 (a threshold of -60 on the overlap)
MAX_STEPS = 41  # the shrink loop of one pair stops after 41 steps (``count > 40: break``)
NEXT_REACH = -3  # the "next neighbour" is shrunk too when it comes within 3 px of the head
N_NEIGHBOURS = 4  # each head is checked against its 4 nearest neighbours
ORDER_WIDTH = N_NEIGHBOURS + 2  # the head itself, 4 neighbours, and the one after the 4th (for the next-neighbour rule)


@njit(cache=True)
def _shrunk(v: int) -> int:
    s = int(v * SHRINK)
    return s if s > MIN_HALF else MIN_HALF


@njit(cache=True)
def greedy_shrink(cx: np.ndarray, cy: np.ndarray, wh: np.ndarray, order: np.ndarray) -> None:
    """The original's greedy shrink, in place on ``wh`` (``(N, 2)`` int64 half-sizes).

    ``order[i]`` lists head ``i``'s neighbours by increasing distance, itself (or a head at the same centre) first,
    ``-1`` where there are fewer heads. Heads are visited in index order, each against its 4 nearest neighbours.
    """
    n = cx.shape[0]
    width = order.shape[1]
    for i in range(n):
        s = order[i, 0]
        for pos in range(1, N_NEIGHBOURS + 1):
            f = order[i, pos]
            if f < 0:
                break
            nxt = order[i, pos + 1] if pos + 1 < width else -1
            sw = wh[s, 0]
            sh = wh[s, 1]
            dw = wh[f, 0]
            dh = wh[f, 1]
            adx = abs(cx[i] - cx[f])
            ady = abs(cy[i] - cy[f])
            ovx = sw + dw - adx
            ovy = sh + dh - ady
            # The gap to reach: half of the larger half-size (of what remains of it when the boxes overlap).
            if ovx > 0 and ovy > 0:
                rx = ovx / 2.0
                ry = ovy / 2.0
                thx = -int(max(sw - rx, dw - rx) / 2.0)
                thy = -int(max(sh - ry, dh - ry) / 2.0)
            else:
                thx = -int(max(sw, dw) / 2.0)
                thy = -int(max(sh, dh) / 2.0)
            thx = max(thx, GAP_CAP)
            thy = max(thy, GAP_CAP)
            steps = 0
            while sw + dw - adx > thx and sh + dh - ady > thy:
                if dw * dh > sw * sh:  # shrink the larger box of the pair (the head itself on a tie)
                    wh[f, 0] = _shrunk(wh[f, 0])
                    wh[f, 1] = _shrunk(wh[f, 1])
                    dw = wh[f, 0]
                    dh = wh[f, 1]
                else:
                    wh[s, 0] = _shrunk(wh[s, 0])
                    wh[s, 1] = _shrunk(wh[s, 1])
                    sw = wh[s, 0]
                    sh = wh[s, 1]
                if n >= 3 and nxt >= 0:  # the next neighbour, if larger than both and close, shrinks as well
                    nw = wh[nxt, 0]
                    nh = wh[nxt, 1]
                    larger = nw * nh > sw * sh and nw * nh > dw * dh
                    near = sw + nw - abs(cx[i] - cx[nxt]) > NEXT_REACH and sh + nh - abs(cy[i] - cy[nxt]) > NEXT_REACH
                    if larger and near:
                        wh[nxt, 0] = _shrunk(nw)
                        wh[nxt, 1] = _shrunk(nh)
                steps += 1
                if steps >= MAX_STEPS:
                    break


@njit(cache=True)
def paint(mask: np.ndarray, rects: np.ndarray) -> None:
    """Set ``mask[y0:y1, x0:x1] = True`` for every rectangle ``(x0, y0, x1, y1)`` (empty ones are skipped)."""
    for k in range(rects.shape[0]):
        x0 = rects[k, 0]
        y0 = rects[k, 1]
        x1 = rects[k, 2]
        y1 = rects[k, 3]
        for y in range(y0, y1):
            for x in range(x0, x1):
                mask[y, x] = True


@njit(cache=True)
def paint_labels(labels: np.ndarray, rects: np.ndarray) -> None:
    """Set ``labels[y0:y1, x0:x1] = k + 1`` for rectangle ``k``, in index order (later heads overwrite earlier)."""
    for k in range(rects.shape[0]):
        for y in range(rects[k, 1], rects[k, 3]):
            for x in range(rects[k, 0], rects[k, 2]):
                labels[y, x] = k + 1


@njit(cache=True)
def _touch(rects: np.ndarray, i: int, j: int) -> bool:
    """Whether rectangles ``i`` and ``j`` overlap or touch (no background row or column between them)."""
    gap_x = max(rects[i, 0], rects[j, 0]) - min(rects[i, 2], rects[j, 2])
    gap_y = max(rects[i, 1], rects[j, 1]) - min(rects[i, 3], rects[j, 3])
    return gap_x < 1 and gap_y < 1


@njit(cache=True)
def _area(rects: np.ndarray, i: int) -> int:
    return (rects[i, 2] - rects[i, 0]) * (rects[i, 3] - rects[i, 1])


@njit(cache=True)
def _split_cost(lo_c: int, hi_c: int, lo_end: int, hi_start: int, lo_len: int, hi_len: int) -> tuple[int, int, int]:
    """Cut between two centres on one axis: the background line ``g`` and the new end/start, and the pixels lost."""
    g = (lo_c + hi_c) // 2  # lo_c < g < hi_c when hi_c - lo_c >= 2
    new_end = min(lo_end, g)
    new_start = max(hi_start, g + 1)
    lost = (lo_end - new_end) * lo_len + (new_start - hi_start) * hi_len
    return new_end, new_start, lost


@njit(cache=True)
def separate(cx: np.ndarray, cy: np.ndarray, rects: np.ndarray, alive: np.ndarray, pairs: np.ndarray) -> None:
    """Make every two live rectangles of ``pairs`` disjoint with a background line between them, in place.

    ``pairs`` must hold every pair of live heads whose rectangles overlap or touch, and no two live heads may have
    equal or 8-adjacent centre pixels (those cannot both keep their centre and be apart). A pair that overlaps or
    touches is cut on the axis whose centres are at least 2 px apart and that costs fewer pixels: each rectangle keeps
    its side of the line between the two centres, the line itself becomes background. Rectangles only ever shrink,
    so a pair once apart stays apart and one pass is enough; every cut keeps both centre pixels.
    """
    for p in range(pairs.shape[0]):
        i = pairs[p, 0]
        j = pairs[p, 1]
        if not (alive[i] and alive[j]) or not _touch(rects, i, j):
            continue
        dx = cx[j] - cx[i]
        dy = cy[j] - cy[i]
        best_axis = -1
        best_lost = 0
        best_far = 0
        for axis in range(2):
            d = dx if axis == 0 else dy
            if abs(d) < 2:
                continue
            lo, hi = (i, j) if d > 0 else (j, i)
            c = cx if axis == 0 else cy
            lo_len = rects[lo, 3] - rects[lo, 1] if axis == 0 else rects[lo, 2] - rects[lo, 0]
            hi_len = rects[hi, 3] - rects[hi, 1] if axis == 0 else rects[hi, 2] - rects[hi, 0]
            _, _, lost = _split_cost(c[lo], c[hi], rects[lo, 2 + axis], rects[hi, axis], lo_len, hi_len)
            if best_axis < 0 or lost < best_lost or (lost == best_lost and abs(d) > best_far):
                best_axis = axis
                best_lost = lost
                best_far = abs(d)
        axis = best_axis
        d = dx if axis == 0 else dy
        lo, hi = (i, j) if d > 0 else (j, i)
        c = cx if axis == 0 else cy
        new_end, new_start, _ = _split_cost(c[lo], c[hi], rects[lo, 2 + axis], rects[hi, axis], 0, 0)
        rects[lo, 2 + axis] = new_end
        rects[hi, axis] = new_start
