"""Compiled (numba) kernels behind :mod:`iim.targets.instance_map` (private).

Everything here is sequential by nature (the original's greedy shrink visits the heads one after another and each
step sees the sizes the previous steps left), a tight pixel loop, or a neighbour search over a few hundred to a few
thousand heads where the per-call overhead of a KD-tree and of numpy's small-array operations dominated (the nearest
neighbours and the touching rectangles use uniform grids here, exact on integer coordinates). So it is compiled once
(``cache=True``: the machine code is stored beside this file and reused by later processes) instead of being
vectorised.
"""

from __future__ import annotations

import math

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


# --- geometry: centres, rectangles, painting a window --------------------------------------------------------------


@njit(cache=True)
def centres_and_half_sizes(boxes: np.ndarray, max_half_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncated centres ``int((x1 + x2) / 2)``, ``int((y1 + y2) / 2)`` and half-sizes ``int(max(w / 2, 3))``,
    ``int(max(h / 2, 3))`` capped at ``max_half_size``, of ``(N, 4)`` float64 boxes (the original's arithmetic)."""
    n = boxes.shape[0]
    cx = np.empty(n, dtype=np.int64)
    cy = np.empty(n, dtype=np.int64)
    wh = np.empty((n, 2), dtype=np.int64)
    for i in range(n):
        cx[i] = int((boxes[i, 2] + boxes[i, 0]) / 2)
        cy[i] = int((boxes[i, 3] + boxes[i, 1]) / 2)
        wh[i, 0] = min(int(max((boxes[i, 2] - boxes[i, 0]) / 2, 3.0)), max_half_size)
        wh[i, 1] = min(int(max((boxes[i, 3] - boxes[i, 1]) / 2, 3.0)), max_half_size)
    return cx, cy, wh


@njit(cache=True)
def layout_rects(
    cx: np.ndarray, cy: np.ndarray, wh: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Kept flags (centre strictly inside the image, row and column 0 excluded) and the painted rectangles
    ``[cx - hw, cx + hw) x [cy - hh, cy + hh)`` clipped to the image, ``(0, 0, 0, 0)`` for heads not kept."""
    n = cx.shape[0]
    rects = np.zeros((n, 4), dtype=np.int64)
    kept = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if 0 < cx[i] < width and 0 < cy[i] < height:
            kept[i] = True
            rects[i, 0] = max(cx[i] - wh[i, 0], 0)
            rects[i, 1] = max(cy[i] - wh[i, 1], 0)
            rects[i, 2] = min(cx[i] + wh[i, 0], width)
            rects[i, 3] = min(cy[i] + wh[i, 1], height)
    return rects, kept


# --- neighbour search on a uniform grid (integer centres, exact) ---------------------------------------------------


@njit(cache=True)
def _centre_grid(
    x: np.ndarray, y: np.ndarray, per_cell: float
) -> tuple[int, int, int, int, int, np.ndarray, np.ndarray]:
    """Bucket the points ``(x, y)`` into square cells (a counting sort, by index within a cell).

    The side is chosen so that a typical point (weighted by points, so that dense crowds count, not the empty
    parts of the image) shares its cell with about ``per_cell`` others; the number of cells stays within
    ``4 N + 64``. Returns the grid origin ``(x0, y0)``, the side, the grid's width and height in cells, the start of
    each cell's run (``cells + 1`` entries) and the point indices in cell order.
    """
    m = x.shape[0]
    x0 = x1 = x[0]
    y0 = y1 = y[0]
    for j in range(1, m):
        x0 = min(x0, x[j])
        x1 = max(x1, x[j])
        y0 = min(y0, y[j])
        y1 = max(y1, y[j])
    span_x = x1 - x0 + 1
    span_y = y1 - y0 + 1
    c0 = max(1, int(math.sqrt(span_x * span_y / m)))  # about one point per cell on average: measure the density
    w0 = span_x // c0 + 1
    occupancy = np.zeros(w0 * (span_y // c0 + 1), dtype=np.int64)
    for j in range(m):
        occupancy[((y[j] - y0) // c0) * w0 + (x[j] - x0) // c0] += 1
    seen = 0.0
    for c in range(occupancy.shape[0]):
        seen += occupancy[c] * occupancy[c]
    side = max(1, int(math.sqrt(per_cell * m * c0 * c0 / seen)))
    while (span_x // side + 1) * (span_y // side + 1) > 4 * m + 64:
        side *= 2
    gw = span_x // side + 1
    gh = span_y // side + 1
    start = np.zeros(gw * gh + 1, dtype=np.int64)
    cell = np.empty(m, dtype=np.int64)
    for j in range(m):
        cell[j] = ((y[j] - y0) // side) * gw + (x[j] - x0) // side
        start[cell[j] + 1] += 1
    for c in range(gw * gh):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(m, dtype=np.int64)
    for j in range(m):
        order[fill[cell[j]]] = j
        fill[cell[j]] += 1
    return x0, y0, side, gw, gh, start, order


@njit(cache=True)
def _offer(d: int, j: int, found: int, k: int, best_d: np.ndarray, best_j: np.ndarray) -> int:
    """Offer head ``j`` at squared distance ``d`` to the ``found`` best of at most ``k``, kept sorted by
    (distance, index) in ``best_d``, ``best_j``; returns how many are kept now."""
    if found == k and (d > best_d[k - 1] or (d == best_d[k - 1] and j > best_j[k - 1])):
        return found
    pos = found if found < k else k - 1  # insertion by (distance, index)
    while pos > 0 and (best_d[pos - 1] > d or (best_d[pos - 1] == d and best_j[pos - 1] > j)):
        best_d[pos] = best_d[pos - 1]
        best_j[pos] = best_j[pos - 1]
        pos -= 1
    best_d[pos] = d
    best_j[pos] = j
    return found + 1 if found < k else found


@njit(cache=True)
def _grid_nearest(
    i: int,
    cx: np.ndarray,
    cy: np.ndarray,
    k: int,
    grid: tuple[int, int, int, int, int, np.ndarray, np.ndarray],
    best_d: np.ndarray,
    best_j: np.ndarray,
) -> None:
    """The ``k`` nearest heads of head ``i`` by (squared distance, index) into ``best_d``, ``best_j``, exactly.

    The search grows ring by ring of grid cells (``grid`` from :func:`_centre_grid`) until every head not yet seen
    is strictly farther than the ``k``-th found, so a tied head of lower index is never missed.
    """
    x0, y0, side, gw, gh, start, order = grid
    qx = cx[i]
    qy = cy[i]
    ix = (qx - x0) // side
    iy = (qy - y0) // side
    found = 0
    r = 0
    while True:
        for yy in range(max(iy - r, 0), min(iy + r, gh - 1) + 1):
            step = 1 if r == 0 or yy == iy - r or yy == iy + r else 2 * r  # inner rows: the ring's two ends
            for xx in range(ix - r, ix + r + 1, step):
                if xx < 0 or xx >= gw:
                    continue
                c = yy * gw + xx
                for t in range(start[c], start[c + 1]):
                    j = order[t]
                    dx = cx[j] - qx
                    dy = cy[j] - qy
                    found = _offer(dx * dx + dy * dy, j, found, k, best_d, best_j)
        if ix - r <= 0 and iy - r <= 0 and ix + r >= gw - 1 and iy + r >= gh - 1:
            break
        # every head not seen yet lies outside the block of rings 0..r, so at least this far on one axis
        gap = min(
            qx - x0 - (ix - r) * side + 1,
            x0 + (ix + r + 1) * side - qx,
            qy - y0 - (iy - r) * side + 1,
            y0 + (iy + r + 1) * side - qy,
        )
        if found == k and best_d[k - 1] < gap * gap:
            break
        r += 1


@njit(cache=True)
def neighbour_order(cx: np.ndarray, cy: np.ndarray, width: int) -> np.ndarray:
    """For each head, the ``width`` nearest heads (itself first), sorted by (squared distance, index); -1 pads.

    Exact: integer squared distances, searched on a grid (:func:`_grid_nearest`).
    """
    n = cx.shape[0]
    out = np.full((n, width), -1, dtype=np.int64)
    k = min(n, width)
    if k == 0:
        return out
    grid = _centre_grid(cx, cy, 2.0)
    best_d = np.empty(k, dtype=np.int64)
    best_j = np.empty(k, dtype=np.int64)
    for i in range(n):
        _grid_nearest(i, cx, cy, k, grid, best_d, best_j)
        for t in range(k):
            out[i, t] = best_j[t]
    return out


@njit(cache=True)
def touching_pairs(rects: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of kept heads whose rectangles overlap or touch, sorted.

    Two half-open integer rectangles overlap or touch exactly when their closed extents ``[x0, x1] x [y0, y1]``
    intersect. Every extent is listed in the grid cells it covers (cells about the median rectangle's size) and each
    rectangle is compared with the others in its cells; a pair is taken in one cell only, the one holding the corner
    ``(max x0, max y0)`` of the intersection.
    """
    ids = np.flatnonzero(kept)
    m = ids.shape[0]
    if m < 2:
        return np.zeros((0, 2), dtype=np.int64)
    bx0 = rects[ids[0], 0]
    by0 = rects[ids[0], 1]
    bx1 = rects[ids[0], 2]
    by1 = rects[ids[0], 3]
    sides = np.empty(m, dtype=np.int64)
    for t in range(m):
        i = ids[t]
        bx0 = min(bx0, rects[i, 0])
        by0 = min(by0, rects[i, 1])
        bx1 = max(bx1, rects[i, 2])
        by1 = max(by1, rects[i, 3])
        sides[t] = max(rects[i, 2] - rects[i, 0], rects[i, 3] - rects[i, 1]) + 1
    side = max(1, int(np.median(sides)))
    span_x = bx1 - bx0 + 1
    span_y = by1 - by0 + 1
    while (span_x // side + 1) * (span_y // side + 1) > 4 * m + 64:
        side *= 2
    gw = span_x // side + 1
    start = np.zeros(gw * (span_y // side + 1) + 1, dtype=np.int64)
    for i in ids:
        for gy in range((rects[i, 1] - by0) // side, (rects[i, 3] - by0) // side + 1):
            for gx in range((rects[i, 0] - bx0) // side, (rects[i, 2] - bx0) // side + 1):
                start[gy * gw + gx + 1] += 1
    for c in range(start.shape[0] - 1):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    members = np.empty(start[-1], dtype=np.int64)
    for i in ids:
        for gy in range((rects[i, 1] - by0) // side, (rects[i, 3] - by0) // side + 1):
            for gx in range((rects[i, 0] - bx0) // side, (rects[i, 2] - bx0) // side + 1):
                members[fill[gy * gw + gx]] = i
                fill[gy * gw + gx] += 1
    found = np.empty(m, dtype=np.int64)
    out = np.empty((4 * m, 2), dtype=np.int64)
    n_out = 0
    for i in ids:
        n_found = 0
        for gy in range((rects[i, 1] - by0) // side, (rects[i, 3] - by0) // side + 1):
            for gx in range((rects[i, 0] - bx0) // side, (rects[i, 2] - bx0) // side + 1):
                c = gy * gw + gx
                for u in range(start[c], start[c + 1]):
                    j = members[u]
                    if j <= i or not _touch(rects, i, j):
                        continue
                    if (max(rects[i, 0], rects[j, 0]) - bx0) // side != gx:
                        continue
                    if (max(rects[i, 1], rects[j, 1]) - by0) // side != gy:
                        continue
                    found[n_found] = j
                    n_found += 1
        if n_found == 0:
            continue
        if n_out + n_found > out.shape[0]:
            grown = np.empty((2 * (n_out + n_found), 2), dtype=np.int64)
            grown[:n_out] = out[:n_out]
            out = grown
        js = np.sort(found[:n_found])
        for u in range(n_found):
            out[n_out, 0] = i
            out[n_out, 1] = js[u]
            n_out += 1
    return out[:n_out].copy()


@njit(cache=True)
def drop_clashing(cx: np.ndarray, cy: np.ndarray, rects: np.ndarray, kept: np.ndarray, pairs: np.ndarray) -> None:
    """Of kept heads whose centre pixels coincide or are 8-adjacent, drop some so that no such pair is left, in place.

    Greedy by priority (larger rectangle first, lower index on a tie): a head stays unless a staying head of higher
    priority clashes with it, so every dropped head has a staying head on or next to its centre pixel. ``pairs`` must
    hold every pair of kept heads whose rectangles touch (which includes every clashing pair); only the few heads in
    clashing pairs are looped over.
    """
    close = np.zeros(pairs.shape[0], dtype=np.bool_)
    n_close = 0
    for p in range(pairs.shape[0]):
        i = pairs[p, 0]
        j = pairs[p, 1]
        if abs(cx[i] - cx[j]) <= 1 and abs(cy[i] - cy[j]) <= 1:
            close[p] = True
            n_close += 1
    if n_close == 0:
        return
    a = np.empty(n_close, dtype=np.int64)
    b = np.empty(n_close, dtype=np.int64)
    t = 0
    for p in range(pairs.shape[0]):
        if close[p]:
            a[t] = pairs[p, 0]
            b[t] = pairs[p, 1]
            t += 1
    involved = np.unique(np.concatenate((a, b)))
    n = cx.shape[0]
    # priority: larger area first, then lower index (areas and indices are small non-negative integers)
    key = np.empty(involved.shape[0], dtype=np.int64)
    for u in range(involved.shape[0]):
        h = involved[u]
        key[u] = -(rects[h, 2] - rects[h, 0]) * (rects[h, 3] - rects[h, 1]) * (n + 1) + h
    dropped = np.zeros(n, dtype=np.bool_)
    for u in np.argsort(key):
        h = involved[u]
        if dropped[h]:
            continue
        for t in range(n_close):
            if a[t] == h:
                dropped[b[t]] = True
            elif b[t] == h:
                dropped[a[t]] = True
    for h in involved:
        if dropped[h]:
            kept[h] = False


# --- the whole layout in one compiled call ---------------------------------------------------------------------------


@njit(cache=True)
def layout(
    boxes: np.ndarray,
    max_half_size: int,
    height: int,
    width: int,
    separate_heads: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres, shrunk half-sizes, painted rectangles and kept flags of ``(N, 4)`` float64 boxes.

    The steps of :func:`iim.targets.instance_layout` in one call (the per-call overhead of the separate kernels and
    of their small intermediate arrays was a third of the cost on a few hundred heads): centres and capped
    half-sizes, the greedy shrink against the nearest neighbours, the clipped rectangles, and with
    ``separate_heads`` the cut of touching pairs (clashing heads dropped first).
    """
    n = boxes.shape[0]
    cx, cy, wh = centres_and_half_sizes(boxes, max_half_size)
    if n:
        order = neighbour_order(cx, cy, ORDER_WIDTH)
        greedy_shrink(cx, cy, wh, order)
    rects, kept = layout_rects(cx, cy, wh, height, width)
    if separate_heads and n > 1:
        pairs = touching_pairs(rects, kept)
        drop_clashing(cx, cy, rects, kept, pairs)
        separate(cx, cy, rects, kept, pairs)
        for i in range(n):
            if not kept[i]:
                rects[i, 0] = rects[i, 1] = rects[i, 2] = rects[i, 3] = 0
    return cx, cy, wh, rects, kept
