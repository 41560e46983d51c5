"""Compiled (numba) head geometry of the window-first training pipeline (private).

:class:`iim.data.transforms.CrowdTransform` moves every head's point and box through the applied scale-and-crop and
flip, then keeps the heads whose point lands in the output. As numpy that is some twenty small-array operations per
sample (a third of the pipeline's cost beyond the resize and the instance map); here it is one pass over the heads.

The arithmetic is the one albumentations' keypoint functions do, in the same order and the same float32 precision
(``RandomScaleCrop.apply_to_keypoints``, then ``keypoints_hflip``: ``x' = (W - 1) - x``), so the results are
identical, bit for bit, to moving the heads as keypoints (tested).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from iim.targets import _kernels as target_kernels

__all__: list[str] = []


@njit(cache=True)
def _move(v: np.float32, scaled: bool, r0: np.float32, k: np.float32, off: np.float32) -> np.float32:
    """A keypoint coordinate through ``RandomScaleCrop``: ``((v + 0.5) - r0) * k - 0.5 + off``, in float32."""
    if not scaled:
        return v
    half = np.float32(0.5)
    return (((v + half) - r0) * k - half) + off


@njit(cache=True)
def move_heads(
    points: np.ndarray,
    boxes: np.ndarray,
    scaled: bool,
    rx0: int,
    ry0: int,
    kx: float,
    ky: float,
    ox: int,
    oy: int,
    flip_width: int,
    frame_x: int,
    frame_y: int,
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Move heads through the window-first geometry; keep those whose point lies in the ``width`` x ``height`` output.

    A point ``v`` moves as a keypoint (``_move``, then ``(flip_width - 1) - v`` when ``flip_width > 0``); a box's two
    corners move as the keypoints ``edge - 0.5`` (the pixel-centre convention, so edges map as edges do) and become
    edges again, ``min`` / ``max`` of the two (a flip swaps them).

    Args:
        points: Head points ``(N, 2)`` float32, input pixels.
        boxes: Head boxes ``(N, 4)`` float32 xyxy, input pixels.
        scaled: Whether ``RandomScaleCrop`` was applied (else points and boxes keep their coordinates).
        rx0: Start (x) of its input region.
        ry0: Start (y) of its input region.
        kx: Its factor on x (window width over region width).
        ky: Its factor on y.
        ox: The window's offset (x) in the output.
        oy: The window's offset (y) in the output.
        flip_width: The output width if the sample is flipped, else 0.
        frame_x: Where output pixel ``(0, 0)`` sits in the scaled (and flipped) image, x.
        frame_y: The same, y.
        width: The output width.
        height: The output height.

    Returns:
        ``frame_boxes`` :math:`(N, 4)` float64, every head's box in the scaled (flipped) image, for the instance map;
        then, for the kept heads, ``points`` :math:`(K, 2)` float32, ``boxes`` :math:`(K, 4)` float32 (clipped to
        the output; a 1-pixel box around the point where nothing of the box is left) and ``ids`` :math:`(K,)` int64.
    """
    n = points.shape[0]
    r0x = np.float32(rx0)
    r0y = np.float32(ry0)
    k_x = np.float32(kx)
    k_y = np.float32(ky)
    o_x = np.float32(ox)
    o_y = np.float32(oy)
    last = np.float32(flip_width - 1)
    half32 = np.float32(0.5)
    frame = np.empty((n, 4), dtype=np.float64)
    out_pts = np.empty((n, 2), dtype=np.float32)
    out_boxes = np.empty((n, 4), dtype=np.float32)
    ids = np.empty(n, dtype=np.int64)
    kept = 0
    for i in range(n):
        px = _move(points[i, 0], scaled, r0x, k_x, o_x)
        py = _move(points[i, 1], scaled, r0y, k_y, o_y)
        ax = _move(boxes[i, 0] - half32, scaled, r0x, k_x, o_x)
        ay = _move(boxes[i, 1] - half32, scaled, r0y, k_y, o_y)
        bx = _move(boxes[i, 2] - half32, scaled, r0x, k_x, o_x)
        by = _move(boxes[i, 3] - half32, scaled, r0y, k_y, o_y)
        if flip_width > 0:
            px = last - px
            ax = last - ax
            bx = last - bx
        x0 = min(np.float64(ax), np.float64(bx)) + 0.5
        x1 = max(np.float64(ax), np.float64(bx)) + 0.5
        y0 = min(np.float64(ay), np.float64(by)) + 0.5
        y1 = max(np.float64(ay), np.float64(by)) + 0.5
        frame[i, 0] = x0 + frame_x
        frame[i, 1] = y0 + frame_y
        frame[i, 2] = x1 + frame_x
        frame[i, 3] = y1 + frame_y
        if not (px >= 0 and px < width and py >= 0 and py < height):
            continue
        out_pts[kept, 0] = px
        out_pts[kept, 1] = py
        cx0 = np.float32(min(max(x0, 0.0), width))
        cy0 = np.float32(min(max(y0, 0.0), height))
        cx1 = np.float32(min(max(x1, 0.0), width))
        cy1 = np.float32(min(max(y1, 0.0), height))
        if not (cx1 > cx0 and cy1 > cy0):  # the box is lost or left nothing inside the output
            cx0 = px - half32
            cy0 = py - half32
            cx1 = px + half32
            cy1 = py + half32
        out_boxes[kept, 0] = cx0
        out_boxes[kept, 1] = cy0
        out_boxes[kept, 2] = cx1
        out_boxes[kept, 3] = cy1
        ids[kept] = i
        kept += 1
    return frame, out_pts[:kept].copy(), out_boxes[:kept].copy(), ids[:kept].copy()


@njit(cache=True)
def heads_and_map(
    points: np.ndarray,
    boxes: np.ndarray,
    geometry: tuple,
    scaled_h: int,
    scaled_w: int,
    build_map: bool,
    max_half_size: int,
    separate_heads: bool,
    hint_candidates: np.ndarray,
    hint_reach: np.ndarray,
    hint_scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`move_heads`, then the output's window of the instance map of the scaled image, in one call.

    ``geometry`` holds :func:`move_heads`' arguments after ``points`` and ``boxes`` (``scaled`` ... ``height``). The
    map is :func:`iim.targets.boxes_to_instance_map` of every head's frame box at the scaled size ``scaled_h`` x
    ``scaled_w``, cropped to the output's window (at ``frame_x``, ``frame_y``, ``width`` x ``height``), built by the
    same kernels without its argument checks: the boxes are finite with ``x2 >= x1`` by construction (checked by
    ``fix_boxes``, then moved by finite factors) and the settings were checked when the transform was made. With
    hints (``hint_candidates`` with a row per head; else an empty array) the neighbours come from them
    (:func:`iim.targets.neighbour_hints`, ``hint_scale`` the smaller of the two factors). Returns the map
    ``(height, width)`` uint8 (``(0, 0)`` when ``build_map`` is false), then what :func:`move_heads` returns for
    the kept heads.
    """
    frame, pts, bxs, ids = move_heads(points, boxes, *geometry)
    if not build_map:
        return np.zeros((0, 0), dtype=np.uint8), pts, bxs, ids
    rects = target_kernels.layout(
        frame, max_half_size, scaled_h, scaled_w, separate_heads, hint_candidates, hint_reach, hint_scale
    )[3]
    frame_x, frame_y, width, height = geometry[8], geometry[9], geometry[10], geometry[11]
    mask = np.zeros((height, width), dtype=np.uint8)
    target_kernels.paint_window(mask, rects, frame_x, frame_y)
    return mask, pts, bxs, ids


@njit(cache=True)
def fix_boxes(points: np.ndarray, boxes: np.ndarray, width: int, height: int) -> int:
    """Give boxes narrower or lower than 1 px that extent around their point, then clip to the image; in place.

    albumentations-style pipelines reject empty boxes, and an annotation's degenerate box still marks a head. The
    float32 arithmetic of ``point -/+ 0.5`` and the clip matches numpy's on float32 arrays. Returns the index of the
    first head whose point or box is not finite (nothing is changed then), else -1.

    Shape:
        - points: :math:`(N, 2)` float32
        - boxes: :math:`(N, 4)` float32 xyxy, modified in place
    """
    half = np.float32(0.5)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    w = np.float32(width)
    h = np.float32(height)
    n = boxes.shape[0]
    for i in range(n):
        for c in range(4):
            if not np.isfinite(boxes[i, c]) or (c < 2 and not np.isfinite(points[i, c])):
                return i
    for i in range(n):
        if boxes[i, 2] - boxes[i, 0] < one:
            boxes[i, 0] = points[i, 0] - half
            boxes[i, 2] = points[i, 0] + half
        if boxes[i, 3] - boxes[i, 1] < one:
            boxes[i, 1] = points[i, 1] - half
            boxes[i, 3] = points[i, 1] + half
        for c in range(4):
            limit = w if c % 2 == 0 else h
            v = boxes[i, c]
            boxes[i, c] = min(max(v, zero), limit)
    return -1
