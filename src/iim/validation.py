"""Input validation shared by every layer: arrays of points, boxes, radii and levels, maps, images, scalars.

Each check takes a ``label`` naming the argument as the caller wants users to read it (e.g.
``"match_points: `pred`"``) and returns the input converted to the array the caller computes with, or raises a
``ValueError`` that starts with ``label`` and says what was expected. Torch tensors (any device) are accepted
wherever arrays are, without importing torch here.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "as_array",
    "as_bool",
    "as_boxes",
    "as_levels",
    "as_map",
    "as_points",
    "as_radii",
    "as_rgb_image",
    "as_rows",
    "as_threshold_offset",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "to_numpy",
]

FLOAT_IMAGE_TOLERANCE = 1e-3  # float images may overshoot [0, 1] by this much (rounding) before it is an error


def to_numpy(x: Any) -> Any:
    """A torch tensor (any device; half and bfloat16 made float32) as numpy; anything else unchanged."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        t = x.detach().cpu()
        if getattr(t, "is_floating_point", lambda: False)() and str(t.dtype) in ("torch.float16", "torch.bfloat16"):
            t = t.float()
        return t.numpy()
    return x


def as_array(label: str, x: Any) -> np.ndarray:
    """``x`` (array-like or tensor) as a numpy array."""
    x = to_numpy(x)
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label} must be an array, got {type(x).__name__} ({err})") from err


def _real(label: str, arr: np.ndarray) -> None:
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{label} must hold real numbers, got dtype {arr.dtype}")


def as_rows(label: str, x: Any, width: int, what: str) -> np.ndarray:
    """``x`` as a C-contiguous float64 :math:`(N, width)` array of finite values.

    An empty input (``[]``, shape ``(0,)`` or ``(0, k)``) gives :math:`(0, width)`; ``what`` names the columns in
    the error message (e.g. ``"(x, y) pixels"``).
    """
    arr = as_array(label, x)
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == 0)):
        return np.zeros((0, width), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{label} must have shape (N, {width}) as {what}, got shape {arr.shape}")
    _real(label, arr)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{label} must hold finite values, got {arr[i].tolist()} at row {i} (NaN or inf)")
    return arr


def as_points(label: str, x: Any) -> np.ndarray:
    """``x`` as float64 :math:`(N, 2)` ``(x, y)`` pixel coordinates, finite."""
    return as_rows(label, x, 2, "(x, y) pixels")


def as_boxes(label: str, x: Any) -> np.ndarray:
    """``x`` as float64 :math:`(N, 4)` ``(x1, y1, x2, y2)`` boxes, finite, with ``x2 >= x1`` and ``y2 >= y1``."""
    arr = as_rows(label, x, 4, "(x1, y1, x2, y2)")
    neg = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(
            f"{label} has a negative size (x2 < x1 or y2 < y1) in {int(neg.sum())} row(s), first row {i}: "
            f"{arr[i].tolist()}"
        )
    return arr


def as_radii(label: str, x: Any, count: int) -> np.ndarray:
    """``x`` as ``count`` float64 radii :math:`(G,)`, finite and ``>= 0``; a scalar is broadcast."""
    arr = as_array(label, x)
    if arr.ndim == 0:
        arr = np.full(count, arr)
    if arr.size == 0 and count == 0:
        return np.zeros(0, dtype=np.float64)
    _real(label, arr)
    if arr.ndim != 1 or arr.shape[0] != count:
        raise ValueError(
            f"{label} must have shape (G,) = ({count},), one radius per point, or be a scalar, got shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=False)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{label} must be finite and >= 0, got {arr[i]} at index {i} ({int(bad.sum())} bad values)")
    return arr


def as_levels(label: str, x: Any, count: int, num_levels: int) -> np.ndarray:
    """``x`` as ``count`` int64 levels :math:`(G,)` in ``[0, num_levels)`` (integral floats accepted)."""
    arr = as_array(label, x)
    if arr.size == 0 and count == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1 or arr.shape[0] != count:
        raise ValueError(f"{label} must have shape (G,) = ({count},), one level per point, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise ValueError(f"{label} must be integers in [0, {num_levels}), got {arr[i]} at index {i}")
    elif arr.dtype.kind not in "biu":
        raise ValueError(f"{label} must be integers in [0, {num_levels}), got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= num_levels)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{label} must be integers in [0, {num_levels}), got {arr[i]} at index {i}")
    return arr


def as_map(label: str, x: Any) -> np.ndarray:
    """One map: :math:`(H, W)`, :math:`(1, H, W)` or :math:`(1, 1, H, W)` of reals or bools, squeezed to (H, W)."""
    arr = as_array(label, x)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{label} must have shape (H, W), (1, H, W) or (1, 1, H, W), got shape {np.shape(x)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{label} must not be empty, got shape {np.shape(x)}")
    _real(label, arr)
    return arr


def as_rgb_image(label: str, x: Any) -> np.ndarray:
    """A channel-last image as a new C-contiguous RGB uint8 :math:`(H, W, 3)` array.

    Accepts :math:`(H, W)` / :math:`(H, W, 1)` grayscale, :math:`(H, W, 3)` RGB and :math:`(H, W, 4)` RGBA (alpha
    dropped); uint8, bool, other integers with values in ``[0, 255]``, or floats in ``[0, 1]``.
    """
    arr = as_array(label, x)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{label} must be channel-last (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}, which "
            "looks channel-first: permute it to (H, W, C)"
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise ValueError(f"{label} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{label} must not be empty, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype.kind == "b":
        out = arr.astype(np.uint8) * 255
    elif arr.dtype.kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{label}: integer images must hold values in [0, 255], got range [{lo}, {hi}]")
        out = arr.astype(np.uint8)
    elif arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{label} must hold finite values, found NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -FLOAT_IMAGE_TOLERANCE or hi > 1 + FLOAT_IMAGE_TOLERANCE:
            raise ValueError(
                f"{label}: float images must hold values in [0, 1], got range [{lo:g}, {hi:g}] "
                "(pass uint8 for 0-255 data, or divide by 255)"
            )
        out = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise ValueError(f"{label} must be uint8 or float in [0, 1], got dtype {arr.dtype}")
    if out.ndim == 2:
        out = out[:, :, None]
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    elif out.shape[2] == 4:
        out = out[:, :, :3]
    return np.array(out, dtype=np.uint8, order="C", copy=True)


def as_bool(label: str, value: Any) -> bool:
    """``value`` as a Python bool; it must be a bool (``true`` / ``false`` on a Hydra command line), not a string."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{label}: expected true or false, got {value!r}")
    return bool(value)


def non_negative_int(label: str, value: Any) -> int:
    """``value`` as a Python int; it must be an integer (not a bool) and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{label}: expected an integer >= 0, got {value!r}")
    return int(value)


def positive_int(label: str, value: Any) -> int:
    """``value`` as a Python int; it must be an integer (not a bool) and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def as_threshold_offset(label: str, value: Any) -> float:
    """``value`` as a threshold offset: a number in [-1, 1] (confidence and threshold both lie in [0, 1]).

    Numeric strings are read as numbers (query strings and form fields arrive as text); booleans, NaN and
    anything else are refused.
    """
    try:
        number = float("nan") if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not -1.0 <= number <= 1.0:
        raise ValueError(f"{label} must be a number in [-1, 1], got {value!r}")
    return number


def positive_float(label: str, value: Any) -> float:
    """``value`` as a Python float; it must be a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"{label} must be a positive finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{label} must be > 0, got {value}")
    return float(value)
