"""Post-processing and inference operators (torch/numpy/OpenCV only): instance extraction and tiled inference.

Touching heads can be split by a watershed (:func:`split_touching`, scikit-image, imported when used).
"""

from iim.ops.components import Instances, extract_instances, extract_instances_batch
from iim.ops.normalize import IMAGENET_MEAN, IMAGENET_STD, normalize_image
from iim.ops.split import SPLIT_MIN_DISTANCE, split_touching
from iim.ops.tiling import tile_windows, tiled_inference

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SPLIT_MIN_DISTANCE",
    "Instances",
    "extract_instances",
    "extract_instances_batch",
    "normalize_image",
    "split_touching",
    "tile_windows",
    "tiled_inference",
]
