"""CrowdDataset: records -> decoded images -> transformed samples with instance-map targets."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from iim.data.records import CrowdRecord, DatasetError
from iim.data.transforms import CrowdTransform
from iim.io import load_image
from iim.targets import points_to_boxes

__all__ = ["CrowdDataset"]


class CrowdDataset(Dataset):
    """A map-style dataset over :class:`~iim.data.records.CrowdRecord`s.

    Args:
        records: The images and their heads (from a reader or the synthetic generator).
        transform: The pipeline (a :class:`~iim.data.transforms.CrowdTransform`).

    Each item is a dict: ``image`` :math:`(3, H, W)` uint8, ``instance_map`` :math:`(1, H, W)` uint8,
    ``points`` :math:`(N, 2)`, ``boxes`` :math:`(N, 4)`, ``head_ids`` :math:`(N,)`, ``image_id`` (str) and ``meta``
    (dict; includes ``count``, the annotated count, and ``size``, the original ``(height, width)``).
    """

    def __init__(self, records: list[CrowdRecord], transform: CrowdTransform) -> None:
        self.records = list(records)
        self.transform = transform
        self._boxes: dict[int, np.ndarray] = {}

    def boxes(self, index: int) -> np.ndarray:
        """Head boxes of record ``index``: the annotated ones, or estimated once (per worker) from the points."""
        record = self.records[index]
        if record.boxes is not None:
            return record.boxes
        if index not in self._boxes:
            self._boxes[index] = points_to_boxes(record.points, record.height, record.width, **self.transform.head_size)
        return self._boxes[index]

    def __len__(self) -> int:
        return len(self.records)

    def image(self, index: int) -> np.ndarray:
        """The decoded RGB image of record ``index``, resized to the record's size if its reader scaled it."""
        record = self.records[index]
        height, width = record.meta.get("source_size", (record.height, record.width))
        if record.image is not None:
            image = record.image
        elif record.image_path is None:
            raise DatasetError(f"record {record.image_id!r} has neither an image nor an image path")
        else:
            image = load_image(record.image_path)
            if image.shape[:2] != (height, width):
                raise DatasetError(
                    f"{record.image_path}: decoded size {image.shape[1]}x{image.shape[0]} differs from the "
                    f"{width}x{height} read from its header"
                )
        if "source_size" in record.meta and image.shape[:2] != (record.height, record.width):  # the reader's `scale`
            up = record.height * record.width > image.shape[0] * image.shape[1]
            image = cv2.resize(
                image, (record.width, record.height), interpolation=cv2.INTER_LINEAR if up else cv2.INTER_AREA
            )
        return image

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        sample: dict[str, Any] = self.transform(self.image(index), record.points, self.boxes(index))
        sample["image_id"] = record.image_id
        sample["meta"] = {
            **{k: v for k, v in record.meta.items() if isinstance(v, (int, float, str, bool))},
            "count": int(record.meta.get("count", record.count)),
            "size": (record.height, record.width),
            "annotated": record.annotated,
        }
        return sample
