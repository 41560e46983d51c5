"""Overlays for crowd localization: predicted heads, the evaluation's TP / FP / FN, and confidence / threshold maps.

Everything here is numpy + OpenCV and returns a new RGB ``uint8`` array (the input is never modified). Torch tensors
are accepted anywhere an array is (copied to the CPU; torch itself is never imported). Points are ``(x, y)`` pixels,
as everywhere in :mod:`iim`.

- :func:`draw_points` -- prediction overlay: a dot per head and a ``count: N`` label (images, video frames)
- :func:`draw_matches` -- evaluation overlay as the paper's Fig. 5: true positives green, misses red, false
  positives magenta, with a TP / FP / FN legend
- :func:`maps_panel` -- the paper's Fig. 7: confidence and threshold maps side by side on one fixed colour scale,
  optionally with the binary map and the image
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from iim import validation

if TYPE_CHECKING:
    from iim.metrics import MatchResult

__all__ = [
    "FN_COLOR",
    "FP_COLOR",
    "PRED_COLOR",
    "TP_COLOR",
    "draw_matches",
    "draw_points",
    "maps_panel",
]

Color = tuple[int, int, int]

TP_COLOR: Color = (0, 255, 0)
"""True positives (matched heads and the predictions matched to them): green, RGB."""
FN_COLOR: Color = (255, 0, 0)
"""Misses (ground-truth heads left unmatched, false negatives): red, RGB."""
FP_COLOR: Color = (255, 0, 255)
"""False positives (predictions left unmatched): magenta, RGB."""
PRED_COLOR: Color = (255, 0, 0)
"""Default dot colour of :func:`draw_points`: red, RGB."""

_OUTLINE: Color = (0, 0, 0)
_TEXT: Color = (255, 255, 255)
_PANEL_BG: Color = (24, 24, 24)
_NAN_COLOR: Color = (128, 128, 128)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SHIFT = 4  # sub-pixel drawing: OpenCV coordinates in 1/16 px
_ONE = 1 << _SHIFT


# ---------------------------------------------------------------------------------------------------------------------
# Input conversion and checks
# ---------------------------------------------------------------------------------------------------------------------


def _check_color(label: str, color: Any) -> Color:
    try:
        values = tuple(color)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= int(v) <= 255 for v in values):
        raise ValueError(f"{label} must be an RGB triple of integers in [0, 255], got {color!r}")
    return int(values[0]), int(values[1]), int(values[2])


def _check_radius(label: str, radius: Any, default: int) -> int:
    if radius is None:
        return default
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 1:
        raise ValueError(f"{label} must be an integer >= 1 or None, got {radius!r}")
    return int(radius)


# ---------------------------------------------------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------------------------------------------------


def _default_radius(height: int, width: int) -> int:
    """Dot radius scaled with the image: 2 px up to ~800 px, 3 px at 1024, 6 px at 2048."""
    return max(2, round(3 * max(height, width) / 1000))


def _font_scale(height: int, width: int) -> float:
    return float(np.clip(max(height, width) / 1400, 0.4, 1.6))


def _fixed(values: np.ndarray) -> np.ndarray:
    """Pixel coordinates to OpenCV's fixed point (``shift=_SHIFT``), clipped far outside any image."""
    return np.round(np.clip(values, -1e6, 1e6) * _ONE).astype(np.int64)


def _visible(points: np.ndarray, reach: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which circles of radius ``reach`` around ``points`` can touch the image."""
    x, y = points[:, 0], points[:, 1]
    return (x + reach >= -1) & (x - reach <= width) & (y + reach >= -1) & (y - reach <= height)


def _dots(img: np.ndarray, points: np.ndarray, color: Color, radius: int) -> None:
    """A filled dot with a 1-2 px dark outline at every point (drawn in place, point by point)."""
    if len(points) == 0:
        return
    h, w = img.shape[:2]
    outline = max(1, radius // 4)
    keep = _visible(points, np.full(len(points), radius + outline, dtype=np.float64), h, w)
    for cx, cy in _fixed(points[keep]).tolist():
        cv2.circle(img, (cx, cy), (radius + outline) * _ONE, _OUTLINE, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, (cx, cy), radius * _ONE, color, -1, cv2.LINE_AA, _SHIFT)


def _rings(img: np.ndarray, points: np.ndarray, radii: np.ndarray, color: Color, thickness: int) -> None:
    """A circle outline of its own radius around every point, on a dark halo (radius 0 draws nothing)."""
    if len(points) == 0:
        return
    h, w = img.shape[:2]
    keep = _visible(points, radii + thickness + 1, h, w) & (radii > 0)
    centers = _fixed(points[keep]).tolist()
    rads = _fixed(radii[keep]).tolist()
    for (cx, cy), r in zip(centers, rads):
        cv2.circle(img, (cx, cy), r, _OUTLINE, thickness + 2, cv2.LINE_AA, _SHIFT)
    for (cx, cy), r in zip(centers, rads):
        cv2.circle(img, (cx, cy), r, color, thickness, cv2.LINE_AA, _SHIFT)


def _rectangles(img: np.ndarray, boxes: np.ndarray, color: Color, thickness: int) -> None:
    """``(x1, y1, x2, y2)`` boxes with exclusive ends (as :func:`iim.ops.extract_instances`) on a dark halo."""
    if len(boxes) == 0:
        return
    x1, y1 = np.minimum(boxes[:, 0], boxes[:, 2]), np.minimum(boxes[:, 1], boxes[:, 3])
    x2, y2 = np.maximum(boxes[:, 0], boxes[:, 2]) - 1, np.maximum(boxes[:, 1], boxes[:, 3]) - 1
    corners = np.stack([x1, y1, np.maximum(x2, x1), np.maximum(y2, y1)], axis=1)
    fixed = _fixed(corners).tolist()
    for a, b, c, d in fixed:
        cv2.rectangle(img, (a, b), (c, d), _OUTLINE, thickness + 2, cv2.LINE_8, _SHIFT)
    for a, b, c, d in fixed:
        cv2.rectangle(img, (a, b), (c, d), color, thickness, cv2.LINE_8, _SHIFT)


def _text_size(text: str, scale: float) -> tuple[int, int, int]:
    thickness = _text_thickness(scale)
    (tw, th), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    return tw, th, baseline


def _text_thickness(scale: float) -> int:
    return max(1, round(scale * 1.6))


def _put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: Color = _TEXT) -> None:
    cv2.putText(img, text, org, _FONT, scale, color, _text_thickness(scale), cv2.LINE_AA)


def _label_layout(rows: Sequence[tuple[str, Color | None]], scale: float) -> tuple[int, int, int, int, int, int]:
    """``(box_w, box_h, pad, line_h, swatch, gap)`` of :func:`_label_box`."""
    pad = max(3, round(6 * scale))
    sizes = [_text_size(text, scale) for text, _ in rows]
    line_h = max(th + bl for _, th, bl in sizes)
    swatch = line_h if any(c is not None for _, c in rows) else 0
    gap = pad if swatch else 0
    box_w = 2 * pad + swatch + gap + max(tw for tw, _, _ in sizes)
    box_h = 2 * pad + len(rows) * line_h + (len(rows) - 1) * (pad // 2)
    return box_w, box_h, pad, line_h, swatch, gap


def _label_box(img: np.ndarray, rows: Sequence[tuple[str, Color | None]], scale: float) -> None:
    """A translucent dark box at the top-left with one text row per entry (a colour swatch first if given)."""
    if not rows:
        return
    box_w, box_h, pad, line_h, swatch, gap = _label_layout(rows, scale)
    sizes = [_text_size(text, scale) for text, _ in rows]
    h, w = img.shape[:2]
    x0, y0 = min(pad, w - 1), min(pad, h - 1)
    x1, y1 = min(w, x0 + box_w), min(h, y0 + box_h)
    region = img[y0:y1, x0:x1]
    region[:] = (region.astype(np.float32) * 0.3 + 0.7 * np.array(_PANEL_BG, np.float32)).astype(np.uint8)
    y = y0 + pad
    for (text, color), (_, th, _) in zip(rows, sizes):
        x = x0 + pad
        if color is not None:
            cv2.rectangle(img, (x, y), (x + swatch - 1, y + line_h - 1), color, -1)
            cv2.rectangle(img, (x, y), (x + swatch - 1, y + line_h - 1), _TEXT, 1)
        if swatch:
            x += swatch + gap
        _put_text(img, text, (x, y + (line_h + th) // 2), scale)
        y += line_h + pad // 2


def _format_count(count: Any) -> str:
    value = float(validation.to_numpy(count))
    if not math.isfinite(value):
        return str(value)
    return str(round(value)) if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def draw_points(
    image: Any,
    points: Any,
    count: float | None = None,
    color: Color = PRED_COLOR,
    radius: int | None = None,
    boxes: Any = None,
    *,
    label: str | None = None,
) -> np.ndarray:
    """Draw predicted heads on a copy of ``image`` with the count in a label box at the top-left.

    Every head is a filled dot with a thin dark outline, so it shows on light and dark backgrounds alike. Points
    outside the image are skipped.

    Args:
        image: Grayscale, RGB or RGBA image, uint8 or float in ``[0, 1]`` (numpy or torch, channel-last).
        points: Head positions as ``(x, y)`` pixels; an empty array of any shape means none.
        count: The number written in the label; defaults to ``len(points)``. May be fractional (a density sum).
        color: RGB dot (and box) colour.
        radius: Dot radius in pixels; default scales with the image (2 px up to ~800 px, 6 px at 2048 px).
        boxes: Optional ``(x1, y1, x2, y2)`` boxes with exclusive ends (as :func:`iim.ops.extract_instances`).
        label: Text of the label box instead of ``"count: N"``; ``""`` draws no label.

    Returns:
        The overlay, a new RGB uint8 array.

    Raises:
        ValueError: naming the argument, on a wrong shape or dtype, non-finite coordinates, a bad colour or radius.

    Shape:
        - image: :math:`(H, W)`, :math:`(H, W, 1)`, :math:`(H, W, 3)` or :math:`(H, W, 4)`
        - points: :math:`(N, 2)` as ``(x, y)``
        - boxes: :math:`(M, 4)` as ``(x1, y1, x2, y2)``
        - output: :math:`(H, W, 3)` uint8 RGB
    """
    img = validation.as_rgb_image("draw_points: `image`", image)
    pts = validation.as_points("draw_points: `points`", points)
    col = _check_color("draw_points: `color`", color)
    h, w = img.shape[:2]
    r = _check_radius("draw_points: `radius`", radius, _default_radius(h, w))
    if boxes is not None:
        bxs = validation.as_rows("draw_points: `boxes`", boxes, 4, "(x1, y1, x2, y2) pixels")
        _rectangles(img, bxs, col, max(1, r // 3))
    _dots(img, pts, col, r)
    if label is None:
        label = f"count: {_format_count(len(pts) if count is None else count)}"
    if label:
        _label_box(img, [(label, None)], _font_scale(h, w))
    return img


def draw_matches(
    image: Any,
    pred_points: Any,
    gt_points: Any,
    gt_sigma: Any,
    *,
    radius: int | None = None,
    match: MatchResult | None = None,
    legend: bool = True,
) -> np.ndarray:
    """The evaluation overlay of the paper's Fig. 5: true positives green, misses red, false positives magenta.

    Predictions are matched to ground-truth heads with :func:`iim.metrics.match_points` (the NWPU protocol: a
    prediction may match a head within that head's ``sigma``). Every head gets a circle of radius ``sigma``: green if
    matched, red if missed (a red dot marks its centre as well). Every prediction gets a dot: green if matched,
    magenta if not. The legend at the top-left gives the TP / FP / FN counts and precision / recall / F1 (on images too
    small for it, one line ``TP a FP b FN c``).

    Args:
        image: Grayscale, RGB or RGBA image, uint8 or float in ``[0, 1]`` (numpy or torch, channel-last).
        pred_points: Predicted heads as ``(x, y)`` pixels; an empty array of any shape means none.
        gt_points: Ground-truth heads, same conventions.
        gt_sigma: The matching radius of every head (e.g. ``sigma_l``), or one scalar for all.
        radius: Dot radius in pixels; default scales with the image.
        match: A precomputed :func:`~iim.metrics.match_points` result for these points (skips the matching).
        legend: Draw the legend box.

    Returns:
        The overlay, a new RGB uint8 array.

    Raises:
        ValueError: naming the argument, on a wrong shape or dtype, non-finite values, negative radii, or a
            ``match`` whose sizes do not fit the points.

    Shape:
        - image: :math:`(H, W)`, :math:`(H, W, 1)`, :math:`(H, W, 3)` or :math:`(H, W, 4)`
        - pred_points: :math:`(P, 2)` as ``(x, y)``
        - gt_points: :math:`(G, 2)` as ``(x, y)``
        - gt_sigma: :math:`(G,)` or a scalar
        - output: :math:`(H, W, 3)` uint8 RGB
    """
    img = validation.as_rgb_image("draw_matches: `image`", image)
    pred = validation.as_points("draw_matches: `pred_points`", pred_points)
    gt = validation.as_points("draw_matches: `gt_points`", gt_points)
    sigma = validation.as_radii("draw_matches: `gt_sigma`", gt_sigma, len(gt))
    h, w = img.shape[:2]
    r = _check_radius("draw_matches: `radius`", radius, _default_radius(h, w))
    if match is None:
        from iim.metrics import match_points  # numba / scipy only when matching is needed

        match = match_points(pred, gt, sigma)
    gt_matched = np.asarray(match.gt_matched, dtype=bool)
    pred_matched = np.asarray(match.pred_matched, dtype=bool)
    if gt_matched.shape != (len(gt),) or pred_matched.shape != (len(pred),):
        raise ValueError(
            f"draw_matches: `match` is for {gt_matched.size} heads and {pred_matched.size} predictions, "
            f"got {len(gt)} heads and {len(pred)} predictions"
        )
    ring = max(1, r // 3)
    _rings(img, gt[gt_matched], sigma[gt_matched], TP_COLOR, ring)
    _rings(img, gt[~gt_matched], sigma[~gt_matched], FN_COLOR, ring)
    _dots(img, gt[~gt_matched], FN_COLOR, r)
    _dots(img, pred[pred_matched], TP_COLOR, r)
    _dots(img, pred[~pred_matched], FP_COLOR, r)
    if legend:
        tp, fp, fn = int(gt_matched.sum()), int((~pred_matched).sum()), int((~gt_matched).sum())
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.3f}"

        scale = _font_scale(h, w)
        rows: list[tuple[str, Color | None]] = [
            (f"TP {tp}", TP_COLOR),
            (f"FP {fp}", FP_COLOR),
            (f"FN {fn} (miss)", FN_COLOR),
            (f"pred {len(pred)}  gt {len(gt)}", None),
            (f"P {fmt(precision)}  R {fmt(recall)}  F1 {fmt(f1)}", None),
        ]
        box_w, box_h = _label_layout(rows, scale)[:2]
        if box_w > 0.6 * w or box_h > 0.4 * h:  # small image: one short line instead of covering it
            rows, scale = [(f"TP {tp} FP {fp} FN {fn}", None)], min(scale, 0.3)
        _label_box(img, rows, scale)
    return img


# ---------------------------------------------------------------------------------------------------------------------
# Maps panel
# ---------------------------------------------------------------------------------------------------------------------


def _fit_scale(lines: Sequence[str], width: int, preferred: float) -> float:
    """The largest font scale <= ``preferred`` at which every line fits in ``width`` (at least 0.3)."""
    widest = max((_text_size(t, 1.0)[0] for t in lines), default=1)
    return float(max(0.3, min(preferred, 0.95 * (width - 4) / max(widest, 1))))


def _text_strip(width: int, lines: Sequence[str], scale: float, height: int) -> np.ndarray:
    strip = np.empty((height, width, 3), np.uint8)
    strip[:] = _PANEL_BG
    pad = max(2, round(4 * scale))
    y = pad
    for text in lines:
        _, th, bl = _text_size(text, scale)
        _put_text(strip, text, (pad, y + th), scale)
        y += th + bl + pad
    return strip


def _strip_height(n_lines: int, scale: float) -> int:
    pad = max(2, round(4 * scale))
    _, th, bl = _text_size("Ag0", scale)
    return pad + n_lines * (th + bl + pad)


def _colorize(values: np.ndarray, lo: float, hi: float, colormap: int) -> np.ndarray:
    finite = np.isfinite(values)
    scaled = np.clip((np.where(finite, values, lo) - lo) / (hi - lo), 0.0, 1.0)
    gray = np.round(scaled * 255.0).astype(np.uint8)
    rgb = cv2.cvtColor(cv2.applyColorMap(gray, colormap), cv2.COLOR_BGR2RGB)
    rgb[~finite] = _NAN_COLOR
    return rgb


def _colorbar(
    width: int, lo: float, hi: float, colormap: int, marks: Sequence[float], scale: float, height: int
) -> np.ndarray:
    """A colour bar over ``[lo, hi]`` with white marks at ``marks`` (the data range) and ticks lo / mid / hi below."""
    footer = np.empty((height, width, 3), np.uint8)
    footer[:] = _PANEL_BG
    bar_h = max(6, round(12 * scale))
    ramp = np.linspace(lo, hi, width, dtype=np.float64)[None, :]
    footer[2 : 2 + bar_h] = _colorize(ramp, lo, hi, colormap)
    for m in marks:
        x = round(float(np.clip((m - lo) / (hi - lo), 0.0, 1.0)) * (width - 1))
        cv2.line(footer, (x, 1), (x, 2 + bar_h), _OUTLINE, 3)
        cv2.line(footer, (x, 1), (x, 2 + bar_h), _TEXT, 1)
    ticks = [(lo, 0.0), ((lo + hi) / 2, 0.5), (hi, 1.0)]
    for value, frac in ticks:
        text = f"{value:g}"
        tw, th, _ = _text_size(text, scale)
        x = int(np.clip(round(frac * (width - 1) - frac * tw), 0, max(0, width - tw)))
        _put_text(footer, text, (x, 2 + bar_h + 3 + th), scale)
    return footer


def _footer_height(scale: float) -> int:
    _, th, bl = _text_size("0.5", scale)
    return 2 + max(6, round(12 * scale)) + 3 + th + bl + 2


def maps_panel(
    confidence: Any,
    threshold: Any,
    binary: Any = None,
    image: Any = None,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    colormap: int = cv2.COLORMAP_JET,
    ncols: int | None = None,
) -> np.ndarray:
    """The confidence map and the learned threshold map side by side, as the paper's Fig. 7.

    Tiles, left to right: the image (if given), the confidence map, the threshold map, the binary map (if given).
    Both maps are colour-mapped on the *same fixed* scale ``value_range`` (``[0, 1]``: confidences live in
    ``(0, 1)``, learned thresholds in ``(0.2, 0.7)``), so colours are comparable across the two maps and across
    epochs; the titles say so. Under each map a colour bar shows the scale with white marks at the data's min and
    max, which the title also prints. Values outside the scale are clipped in colour (not in the printed range);
    NaN / inf pixels are drawn gray and counted in the title. The binary map is shown black / white with its number
    of 4-connected components (= heads before the ``min_area`` filter). An image of another size is resized to the
    maps' size.

    Args:
        confidence: The confidence map.
        threshold: The threshold map, same size.
        binary: Optional binary map, same size: bool, integers (nonzero = foreground) or floats (``> 0.5``).
        image: Optional image: grayscale, RGB or RGBA, uint8 or float in ``[0, 1]``, channel-last.
        value_range: ``(lo, hi)`` of the colour scale of both maps.
        colormap: An OpenCV colormap (``cv2.COLORMAP_JET``, ``cv2.COLORMAP_VIRIDIS``, ...).
        ncols: Tiles per row; default all in one row.

    Returns:
        The panel, a new RGB uint8 array.

    Raises:
        ValueError: naming the argument, on a wrong shape or dtype, maps of different sizes, or a bad
            ``value_range`` / ``ncols``.

    Shape:
        - confidence, threshold, binary: :math:`(H, W)`, :math:`(1, H, W)` or :math:`(1, 1, H, W)`
        - image: :math:`(H', W')`, :math:`(H', W', C)` with ``C`` in 1, 3, 4
        - output: :math:`(H_p, W_p, 3)` uint8 RGB: ``ncols`` tiles per row, each tile ``W`` wide and ``H`` plus a
          title strip and a colour-bar strip high, with thin black gaps
    """
    conf = validation.as_map("maps_panel: `confidence`", confidence).astype(np.float64)
    thr = validation.as_map("maps_panel: `threshold`", threshold).astype(np.float64)
    if thr.shape != conf.shape:
        raise ValueError(f"maps_panel: `threshold` must have the shape of `confidence` {conf.shape}, got {thr.shape}")
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError) as err:
        raise ValueError(f"maps_panel: `value_range` must be (lo, hi), got {value_range!r}") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"maps_panel: `value_range` must be finite with lo < hi, got {value_range!r}")
    h, w = conf.shape

    # (title lines, body, footer kind) per tile
    tiles: list[tuple[list[str], np.ndarray, str, list[float]]] = []
    if image is not None:
        img = validation.as_rgb_image("maps_panel: `image`", image)
        if img.shape[:2] != (h, w):
            shrink = img.shape[0] * img.shape[1] > h * w
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        tiles.append((["image", f"{w} x {h}"], img, "blank", []))
    for name, values in (("confidence", conf), ("threshold", thr)):
        finite = np.isfinite(values)
        n_bad = int(values.size - finite.sum())
        if finite.any():
            mn, mx = float(values[finite].min()), float(values[finite].max())
            stats = f"data {mn:.3f} - {mx:.3f}"
            marks = [mn, mx]
        else:
            stats, marks = "data: no finite values", []
        if n_bad:
            stats += f", {n_bad} NaN/inf"
        title = [f"{name} (fixed scale {lo:g}-{hi:g})", stats]
        tiles.append((title, _colorize(values, lo, hi, colormap), "bar", marks))
    if binary is not None:
        raw = validation.as_map("maps_panel: `binary`", binary)
        if raw.shape != conf.shape:
            raise ValueError(f"maps_panel: `binary` must have the shape of `confidence` {conf.shape}, got {raw.shape}")
        mask = (np.nan_to_num(raw) > 0.5) if raw.dtype.kind == "f" else (raw != 0)
        n_comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)[0] - 1
        body = np.repeat((mask.astype(np.uint8) * 255)[:, :, None], 3, axis=2)
        tiles.append((["binary (conf > thr)", f"{n_comp} components, {100 * mask.mean():.1f}% fg"], body, "blank", []))

    n = len(tiles)
    if ncols is None:
        ncols = n
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"maps_panel: `ncols` must be an integer >= 1 or None, got {ncols!r}")
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)

    all_lines = [line for title, _, _, _ in tiles for line in title]
    scale = _fit_scale(all_lines, w, float(np.clip(w / 700, 0.35, 1.4)))
    title_h = _strip_height(2, scale)
    footer_h = _footer_height(scale)
    gap = max(2, round(4 * scale))
    tile_h = title_h + h + footer_h
    panel = np.empty((nrows * tile_h + (nrows + 1) * gap, ncols * w + (ncols + 1) * gap, 3), np.uint8)
    panel[:] = (0, 0, 0)
    for k, (title, body, footer_kind, marks) in enumerate(tiles):
        row, col = divmod(k, ncols)
        y, x = gap + row * (tile_h + gap), gap + col * (w + gap)
        panel[y : y + title_h, x : x + w] = _text_strip(w, title, scale, title_h)
        panel[y + title_h : y + title_h + h, x : x + w] = body
        if footer_kind == "bar":
            footer = _colorbar(w, lo, hi, colormap, marks, scale, footer_h)
        else:
            footer = np.empty((footer_h, w, 3), np.uint8)
            footer[:] = _PANEL_BG
        panel[y + title_h + h : y + tile_h, x : x + w] = footer
    return panel
