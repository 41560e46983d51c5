"""Argument checks shared by :mod:`iim.targets` (private)."""

from __future__ import annotations

import numbers

import numpy as np

__all__: list[str] = []


def as_boxes(boxes: object, fn: str, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a C-contiguous ``(N, 4)`` float64 array, checked: finite values and ``x2 >= x1``, ``y2 >= y1``.

    An empty input (``[]``, shape ``(0,)`` or ``(0, 4)``) gives a ``(0, 4)`` array.
    """
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{fn}: `{name}` must be an (N, 4) array of x1, y1, x2, y2 numbers ({err})") from err
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] in (0, 4))):
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{fn}: `{name}` must have shape (N, 4) (x1, y1, x2, y2), got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{fn}: `{name}` contains NaN or infinite values (row {i}: {arr[i].tolist()})")
    neg = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(
            f"{fn}: `{name}` has a negative size (x2 < x1 or y2 < y1) in {int(neg.sum())} row(s), first row {i}: "
            f"{arr[i].tolist()}"
        )
    return np.ascontiguousarray(arr)


def as_points(points: object, fn: str, name: str = "points") -> np.ndarray:
    """``points`` as a ``(N, 2)`` float64 array of finite x, y values; empty input gives ``(0, 2)``."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{fn}: `{name}` must be an (N, 2) array of x, y numbers ({err})") from err
    if arr.size == 0 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] in (0, 2))):
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{fn}: `{name}` must have shape (N, 2) (x, y), got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{fn}: `{name}` contains NaN or infinite values (row {i}: {arr[i].tolist()})")
    return np.ascontiguousarray(arr)


def check_positive_int(value: object, fn: str, name: str) -> int:
    """``value`` as a Python int, which must be an integer (not a bool) and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{fn}: `{name}` must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{fn}: `{name}` must be a positive integer, got {value}")
    return int(value)


def check_positive_float(value: object, fn: str, name: str) -> float:
    """``value`` as a Python float, which must be a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"{fn}: `{name}` must be a positive finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{fn}: `{name}` must be > 0, got {value}")
    return float(value)
