"""The one record every dataset reader produces, and the problems a reader can find."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CrowdRecord", "DatasetError", "Problem"]


@dataclass
class CrowdRecord:
    """One annotated image, in the same form for every dataset.

    Attributes:
        image_id: The dataset's id of the image (e.g. ``"3110"``, ``"IMG_12"``, ``"3/001"``).
        image_path: Path of the image file (``None`` for in-memory images).
        height: Image height in pixels (after EXIF orientation).
        width: Image width in pixels (after EXIF orientation).
        points: Head points, :math:`(N, 2)` float32 ``(x, y)`` in 0-based pixel coordinates (pixel centres at
            integers; MATLAB's 1-based files are converted).
        boxes: Head boxes, :math:`(N, 4)` float32 ``(x1, y1, x2, y2)``, or ``None`` where the dataset has only points
            (the data pipeline then estimates them with :func:`iim.targets.points_to_boxes`).
        annotated: False for images without annotations (test splits); ``points`` is then empty.
        meta: Per-image metadata: ``count`` (the count stated by the annotation file, if any), ``split``,
            ``points_clipped``/``points_dropped`` (points found outside the image), dataset-specific labels.
        image: The decoded RGB image, :math:`(H, W, 3)` uint8, for in-memory datasets (synthetic scenes); ``None``
            when it is read from ``image_path``.
    """

    image_id: str
    image_path: Path | None
    height: int
    width: int
    points: np.ndarray
    boxes: np.ndarray | None = None
    annotated: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Number of head points."""
        return int(self.points.shape[0])


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file of a dataset."""

    path: Path
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DatasetError(ValueError):
    """A dataset cannot be read as asked; ``problems`` lists every file at fault."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            shown = "\n".join(f"  - {p}" for p in self.problems[:20])
            more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
            message = f"{message}\n{shown}{more}"
        super().__init__(message)
