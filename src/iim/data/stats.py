"""How to compute the RGB mean and standard deviation (in [0, 1]) of a new dataset.

The known datasets' values are the original IIM code's (``datasets/setting/<DS>.py``), kept in their configs
(``conf/data/<name>.yaml``: ``mean``, ``std``); FDST reuses ShanghaiTech B's there, and so does iim.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from iim.data.records import CrowdRecord
from iim.io import load_image

__all__ = ["compute_mean_std"]


def compute_mean_std(records: Iterable[CrowdRecord]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pixel-weighted RGB mean and standard deviation (in [0, 1]) over the images of ``records``."""
    total = np.zeros(3)
    total_sq = np.zeros(3)
    pixels = 0
    for record in records:
        image = record.image if record.image is not None else load_image(record.image_path)  # type: ignore[arg-type]
        flat = image.reshape(-1, 3).astype(np.float64) / 255.0
        total += flat.sum(axis=0)
        total_sq += (flat * flat).sum(axis=0)
        pixels += flat.shape[0]
    if pixels == 0:
        raise ValueError("compute_mean_std: no images")
    mean = total / pixels
    std = np.sqrt(np.maximum(total_sq / pixels - mean * mean, 0.0))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
