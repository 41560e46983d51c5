"""Post-processing and inference operators (torch/numpy/OpenCV only): instance extraction and tiled inference."""

from iim.ops.components import Instances, extract_instances, extract_instances_batch
from iim.ops.normalize import normalize_image
from iim.ops.tiling import tile_windows, tiled_inference

__all__ = [
    "Instances",
    "extract_instances",
    "extract_instances_batch",
    "normalize_image",
    "tile_windows",
    "tiled_inference",
]
