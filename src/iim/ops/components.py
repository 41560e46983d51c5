"""From a binary map to instances: 4-connected components, their centroids, boxes and areas (OpenCV labelling).

Optionally, components holding several confidence peaks are split first (:mod:`iim.ops.split`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch

from iim.ops.split import SPLIT_MIN_DISTANCE, split_touching

__all__ = ["Instances", "extract_instances", "extract_instances_batch"]

ArrayLike = np.ndarray | torch.Tensor


class Instances(NamedTuple):
    """The heads found in one binary map.

    Attributes:
        points: Component centroids (the pixel mean, as the original), :math:`(N, 2)` float64 as ``(x, y)``.
        boxes: Component bounding boxes, :math:`(N, 4)` float64 ``(x1, y1, x2, y2)`` with exclusive ends.
        areas: Component areas in pixels, :math:`(N,)` int64.
    """

    points: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray

    @property
    def count(self) -> int:
        """Number of instances."""
        return int(self.points.shape[0])


def _tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().to("cpu")
    if tensor.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
        tensor = tensor.float()
    return tensor.numpy()


def _to_uint8_mask(binary: ArrayLike, name: str = "binary") -> np.ndarray:
    if isinstance(binary, torch.Tensor):
        binary = _tensor_to_numpy(binary)
    binary = np.asarray(binary)
    if binary.ndim == 3 and binary.shape[0] == 1:
        binary = binary[0]
    if binary.ndim != 2:
        raise ValueError(f"{name}: expected a single map (H, W) or (1, H, W), got shape {binary.shape}")
    if binary.dtype == np.bool_:
        return binary.view(np.uint8)
    if not (np.issubdtype(binary.dtype, np.integer) or np.issubdtype(binary.dtype, np.floating)):
        raise ValueError(f"{name}: expected a numeric or boolean map, got dtype {binary.dtype}")
    if binary.size and not np.all((binary == 0) | (binary == 1)):
        raise ValueError(
            f"{name}: expected only 0 and 1 (a binary map); found other values. Binarize the confidence map first "
            "(confidence >= threshold)."
        )
    return binary.astype(np.uint8, copy=False)


def _instances_of_labels(labels: np.ndarray, n: int, min_area: int) -> Instances:
    """Centroids, boxes and areas of labels 1..n, in raster order of each label's first pixel."""
    from scipy import ndimage

    flat = labels.ravel()
    areas = np.bincount(flat, minlength=n + 1)[1:]
    ys, xs = np.divmod(np.arange(flat.size), labels.shape[1])
    cx = np.bincount(flat, weights=xs, minlength=n + 1)[1:] / np.maximum(areas, 1)
    cy = np.bincount(flat, weights=ys, minlength=n + 1)[1:] / np.maximum(areas, 1)
    slices = ndimage.find_objects(labels, max_label=n)
    boxes = np.array(
        [(s[1].start, s[0].start, s[1].stop, s[0].stop) if s is not None else (0, 0, 0, 0) for s in slices],
        dtype=np.float64,
    ).reshape(-1, 4)
    values, first = np.unique(flat, return_index=True)
    order = values[np.argsort(first)]
    order = order[order > 0] - 1
    order = order[areas[order] >= max(min_area, 1)]
    points = np.stack([cx[order], cy[order]], axis=1).reshape(-1, 2)
    return Instances(points, boxes[order], areas[order].astype(np.int64))


def extract_instances(
    binary: ArrayLike,
    min_area: int = 3,
    connectivity: int = 4,
    *,
    split_heads: bool = False,
    confidence: ArrayLike | None = None,
    split_min_distance: int = SPLIT_MIN_DISTANCE,
) -> Instances:
    """Label the connected components of a binary map and return one instance per component.

    As the original post-processing: ``cv2.connectedComponentsWithStats`` with 4-connectivity, the background label
    dropped, components smaller than ``min_area`` pixels dropped, centroids as float pixel means. With
    ``split_heads``, a component holding several peaks of ``confidence`` is cut into one instance per peak first
    (:func:`iim.ops.split_touching`: a watershed from ``skimage.feature.peak_local_max`` markers).

    Args:
        binary: A binary map: numpy array or torch tensor (CPU or CUDA), bool or numeric with values in {0, 1}.
        min_area: Smallest component kept, in pixels (3 in the original).
        connectivity: 4 (the original) or 8.
        split_heads: Split components with several confidence peaks (off: the original's one instance a component).
        confidence: The confidence map (needed with ``split_heads``).
        split_min_distance: With ``split_heads``: least distance in pixels between two peaks that count as two
            heads.

    Returns:
        The instances, ordered by OpenCV's label order (raster order of each component's first pixel).

    Shape:
        - binary, confidence: :math:`(H, W)` or :math:`(1, H, W)`
        - points: :math:`(N, 2)`, boxes: :math:`(N, 4)`, areas: :math:`(N,)`
    """
    if connectivity not in (4, 8):
        raise ValueError(f"extract_instances: `connectivity` must be 4 or 8, got {connectivity}")
    if min_area < 0:
        raise ValueError(f"extract_instances: `min_area` must be >= 0, got {min_area}")
    mask = _to_uint8_mask(binary)
    if mask.size == 0:
        return Instances(np.zeros((0, 2)), np.zeros((0, 4)), np.zeros((0,), dtype=np.int64))
    if split_heads:
        if confidence is None:
            raise ValueError("extract_instances: `split_heads=True` needs the `confidence` map of the binary map")
        conf = _tensor_to_numpy(confidence) if isinstance(confidence, torch.Tensor) else np.asarray(confidence)
        if conf.ndim == 3 and conf.shape[0] == 1:
            conf = conf[0]
        labels, n = split_touching(mask, conf, min_distance=split_min_distance, connectivity=connectivity)
        return _instances_of_labels(labels, n, min_area)
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    stats, centroids = stats[1:], centroids[1:]
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    stats, centroids = stats[keep].astype(np.int64), centroids[keep].astype(np.float64)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    boxes = np.stack([x, y, x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]], axis=1)
    return Instances(centroids.reshape(-1, 2), boxes.astype(np.float64).reshape(-1, 4), stats[:, cv2.CC_STAT_AREA])


def extract_instances_batch(
    binary: ArrayLike | Sequence[ArrayLike],
    min_area: int = 3,
    connectivity: int = 4,
    *,
    split_heads: bool = False,
    confidence: ArrayLike | Sequence[ArrayLike] | None = None,
    split_min_distance: int = SPLIT_MIN_DISTANCE,
) -> list[Instances]:
    """:func:`extract_instances` for every map of a batch (moved to the CPU once).

    Args:
        binary: A batch :math:`(B, 1, H, W)` or :math:`(B, H, W)`, or a sequence of single maps.
        min_area: Smallest component kept, in pixels.
        connectivity: 4 or 8.
        split_heads: As :func:`extract_instances`.
        confidence: The confidence maps, of the batch's shape (needed with ``split_heads``).
        split_min_distance: As :func:`extract_instances`.

    Returns:
        One :class:`Instances` per image.
    """
    if isinstance(binary, torch.Tensor):
        binary = _tensor_to_numpy(binary)
    if isinstance(binary, np.ndarray):
        if binary.ndim == 4 and binary.shape[1] == 1:
            binary = binary[:, 0]
        if binary.ndim != 3:
            raise ValueError(f"extract_instances_batch: expected (B, 1, H, W) or (B, H, W), got shape {binary.shape}")
    if not split_heads:
        return [extract_instances(b, min_area=min_area, connectivity=connectivity) for b in binary]
    if confidence is None:
        raise ValueError("extract_instances_batch: `split_heads=True` needs the `confidence` maps")
    if isinstance(confidence, torch.Tensor):
        confidence = _tensor_to_numpy(confidence)
    if len(confidence) != len(binary):
        raise ValueError(f"extract_instances_batch: {len(binary)} binary maps but {len(confidence)} confidence maps")
    return [
        extract_instances(
            b,
            min_area=min_area,
            connectivity=connectivity,
            split_heads=True,
            confidence=c,
            split_min_distance=split_min_distance,
        )
        for b, c in zip(binary, confidence, strict=True)
    ]
