"""Per-dataset RGB mean and standard deviation (in [0, 1]), and how to compute them for a new dataset.

The values are the original IIM code's (``datasets/setting/<DS>.py``; FDST reuses ShanghaiTech B's there, and so
does iim). ``imagenet`` suits ImageNet-pretrained backbones on data without statistics of its own; EfficientNet-Lite
was trained on inputs scaled to [-1, 1], i.e. ``lite`` (mean = std = 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from iim.data.image_io import load_image
from iim.data.records import CrowdRecord

__all__ = ["DATASET_STATS", "compute_mean_std"]

DATASET_STATS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "nwpu": ((0.446139603853, 0.409515678883, 0.395083993673), (0.288205742836, 0.278144598007, 0.283502370119)),
    "shha": ((0.410824894905, 0.370634973049, 0.359682112932), (0.278580576181, 0.26925137639, 0.27156367898)),
    "shhb": ((0.452016860247, 0.447249650955, 0.431981861591), (0.23242045939, 0.224925786257, 0.221840232611)),
    "qnrf": ((0.413525998592, 0.378520160913, 0.371616870165), (0.284849464893, 0.277046442032, 0.281509846449)),
    "jhu": (
        (0.42968395352363586, 0.4371049106121063, 0.4219788610935211),
        (0.23554939031600952, 0.2325684279203415, 0.23559504747390747),
    ),
    "fdst": ((0.452016860247, 0.447249650955, 0.431981861591), (0.23242045939, 0.224925786257, 0.221840232611)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "lite": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


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
