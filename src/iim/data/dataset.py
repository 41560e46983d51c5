"""CrowdDataset: records -> decoded images -> transformed samples with instance-map targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from iim.data.records import CrowdRecord, DatasetError
from iim.data.transforms import CrowdTransform
from iim.targets import points_to_boxes

__all__ = ["CrowdDataset", "load_image"]


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image as RGB uint8 :math:`(H, W, 3)`: EXIF orientation applied, grayscale/RGBA/palette made RGB.

    Raises:
        DatasetError: the file is missing, truncated or not an image (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: image file is missing")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies the EXIF orientation; gray and RGBA become 3-channel
    if image is not None:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:  # formats OpenCV cannot read (some palettes, odd TIFFs): let PIL try
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise DatasetError(f"{path}: cannot decode image ({err})") from err


class CrowdDataset(Dataset):
    """A map-style dataset over :class:`~iim.data.records.CrowdRecord`s.

    Args:
        records: The images and their heads (from a reader or the synthetic generator).
        transform: The pipeline (:func:`~iim.data.transforms.train_transform` or
            :func:`~iim.data.transforms.eval_transform`).

    Each item is a dict: ``image`` :math:`(3, H, W)` uint8, ``instance_map`` :math:`(1, H, W)` uint8,
    ``points`` :math:`(N, 2)`, ``boxes`` :math:`(N, 4)`, ``head_ids`` :math:`(N,)`, ``image_id`` (str) and ``meta``
    (dict; includes ``count``, the annotated count, and ``size``, the original ``(height, width)``).
    """

    def __init__(self, records: list[CrowdRecord], transform: CrowdTransform) -> None:
        self.records = list(records)
        self.transform = transform
        self._boxes: dict[int, np.ndarray] = {}

    def boxes(self, index: int) -> np.ndarray:
        """Head boxes of record ``index``: the annotated ones, or estimated from the points once and cached."""
        record = self.records[index]
        if record.boxes is not None:
            return record.boxes
        if index not in self._boxes:
            self._boxes[index] = points_to_boxes(record.points, record.height, record.width, **self.transform.head_size)
        return self._boxes[index]

    def __len__(self) -> int:
        return len(self.records)

    def image(self, index: int) -> np.ndarray:
        """The decoded RGB image of record ``index``."""
        record = self.records[index]
        if record.image is not None:
            return record.image
        if record.image_path is None:
            raise DatasetError(f"record {record.image_id!r} has neither an image nor an image path")
        image = load_image(record.image_path)
        if image.shape[:2] != (record.height, record.width):
            raise DatasetError(
                f"{record.image_path}: decoded size {image.shape[1]}x{image.shape[0]} differs from the "
                f"{record.width}x{record.height} read from its header"
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
