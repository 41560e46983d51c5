"""From a binary map to instances: 4-connected components, their centroids, boxes and areas (OpenCV labelling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch

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


def extract_instances(binary: ArrayLike, min_area: int = 3, connectivity: int = 4) -> Instances:
    """Label the connected components of a binary map and return one instance per component.

    As the original post-processing: ``cv2.connectedComponentsWithStats`` with 4-connectivity, the background label
    dropped, components smaller than ``min_area`` pixels dropped, centroids as float pixel means.

    Args:
        binary: A binary map: numpy array or torch tensor (CPU or CUDA), bool or numeric with values in {0, 1}.
        min_area: Smallest component kept, in pixels (3 in the original).
        connectivity: 4 (the original) or 8.

    Returns:
        The instances, ordered by OpenCV's label order (raster order of each component's first pixel).

    Shape:
        - binary: :math:`(H, W)` or :math:`(1, H, W)`
        - points: :math:`(N, 2)`, boxes: :math:`(N, 4)`, areas: :math:`(N,)`
    """
    if connectivity not in (4, 8):
        raise ValueError(f"extract_instances: `connectivity` must be 4 or 8, got {connectivity}")
    if min_area < 0:
        raise ValueError(f"extract_instances: `min_area` must be >= 0, got {min_area}")
    mask = _to_uint8_mask(binary)
    if mask.size == 0:
        return Instances(np.zeros((0, 2)), np.zeros((0, 4)), np.zeros((0,), dtype=np.int64))
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    stats, centroids = stats[1:], centroids[1:]
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    stats, centroids = stats[keep].astype(np.int64), centroids[keep].astype(np.float64)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    boxes = np.stack([x, y, x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]], axis=1)
    return Instances(centroids.reshape(-1, 2), boxes.astype(np.float64).reshape(-1, 4), stats[:, cv2.CC_STAT_AREA])


def extract_instances_batch(
    binary: ArrayLike | Sequence[ArrayLike], min_area: int = 3, connectivity: int = 4
) -> list[Instances]:
    """:func:`extract_instances` for every map of a batch (moved to the CPU once).

    Args:
        binary: A batch :math:`(B, 1, H, W)` or :math:`(B, H, W)`, or a sequence of single maps.
        min_area: Smallest component kept, in pixels.
        connectivity: 4 or 8.

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
    return [extract_instances(b, min_area=min_area, connectivity=connectivity) for b in binary]
