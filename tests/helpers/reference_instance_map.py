"""A plain-Python, loop-by-loop version of the original instance-map algorithm (a test helper).

It follows the original ``generate_masks`` step for step (a full distance vector and an ``argsort`` per head, Python
scalars, one rectangle painted at a time) and exists only to check and time the compiled implementation in
:mod:`iim.targets.instance_map`; it is slow (quadratic in the number of heads). ``argsort_kind="stable"`` breaks
distance ties by index like the fast implementation; the original's default ``np.argsort`` kind leaves the order of
ties unspecified.
"""

from __future__ import annotations

import math

import numpy as np

__all__: list[str] = []


def _shrink(v: int) -> int:
    return max(int(v * 0.9), 2)


def reference_half_sizes(
    boxes: np.ndarray, max_half_size: int = 25, argsort_kind: str = "stable"
) -> tuple[np.ndarray, np.ndarray]:
    """Truncated centres ``(N, 2)`` and half-sizes ``(N, 2)`` after the original's greedy shrink, by plain loops."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    centres = [(int((x1 + x2) / 2), int((y1 + y2) / 2)) for x1, y1, x2, y2 in boxes.tolist()]
    hw = [min(int(max((x2 - x1) / 2, 3)), max_half_size) for x1, _, x2, _ in boxes.tolist()]
    hh = [min(int(max((y2 - y1) / 2, 3)), max_half_size) for _, y1, _, y2 in boxes.tolist()]
    c = np.array(centres, dtype=np.int64).reshape(n, 2)
    for i in range(n):
        xi, yi = centres[i]
        dist = np.sqrt(((c - c[i]) ** 2).sum(axis=1).astype(np.float64))
        order = np.argsort(dist, kind=argsort_kind).tolist()
        s = order[0]
        for pos in range(1, min(5, n)):
            f = order[pos]
            xf, yf = centres[f]
            sw, sh, dw, dh = hw[s], hh[s], hw[f], hh[f]
            ovx = sw + dw - abs(xi - xf)
            ovy = sh + dh - abs(yi - yf)
            if ovx > 0 and ovy > 0:
                thx = max(-int(max(sw - ovx / 2, dw - ovx / 2) / 2.0), -60)
                thy = max(-int(max(sh - ovy / 2, dh - ovy / 2) / 2.0), -60)
            else:
                thx = max(-int(max(sw, dw) / 2.0), -60)
                thy = max(-int(max(sh, dh) / 2.0), -60)
            steps = 0
            while sw + dw - abs(xi - xf) > thx and sh + dh - abs(yi - yf) > thy:
                if dw * dh > sw * sh:
                    hw[f], hh[f] = _shrink(hw[f]), _shrink(hh[f])
                    dw, dh = hw[f], hh[f]
                else:
                    hw[s], hh[s] = _shrink(hw[s]), _shrink(hh[s])
                    sw, sh = hw[s], hh[s]
                if n >= 3 and pos + 1 < n:
                    t = order[pos + 1]
                    xt, yt = centres[t]
                    tw, th = hw[t], hh[t]
                    larger = tw * th > sw * sh and tw * th > dw * dh
                    if larger and sw + tw - abs(xi - xt) > -3 and sh + th - abs(yi - yt) > -3:
                        hw[t], hh[t] = _shrink(tw), _shrink(th)
                steps += 1
                if steps > 40:
                    break
    return c, np.array([hw, hh], dtype=np.int64).T.reshape(n, 2)


def reference_instance_map(
    boxes: np.ndarray, height: int, width: int, max_half_size: int = 25, argsort_kind: str = "stable"
) -> np.ndarray:
    """The original's ``(H, W)`` bool instance map, by plain loops."""
    centres, half = reference_half_sizes(boxes, max_half_size, argsort_kind)
    mask = np.zeros((height, width), dtype=bool)
    for (x, y), (w, h) in zip(centres.tolist(), half.tolist()):
        if 0 < x < width and 0 < y < height:
            mask[max(y - h, 0) : min(y + h, height), max(x - w, 0) : min(x + w, width)] = True
    return mask


def reference_gt_loc(box: tuple[float, float, float, float]) -> tuple[int, int, int, int, int] | None:
    """One head of the official GT-loc writer (``loc_gt_make``): centre, sigma_s, sigma_l, level; None if area 0."""
    x1, y1, x2, y2 = (int(v) for v in box)
    w, h = int(x2 - x1), int(y2 - y1)
    area = w * h
    if area == 0:
        return None
    level = 0
    if 1 <= area < 10:
        level = 0
    elif 10 < area < 100:
        level = 1
    elif 100 < area < 1000:
        level = 2
    elif 1000 < area < 10000:
        level = 3
    elif 10000 < area < 100000:
        level = 4
    elif area > 100000:
        level = 5
    return int((x1 + x2) / 2), int((y1 + y2) / 2), int(min(w, h) / 2), int(math.sqrt(w * w + h * h) / 2), level
