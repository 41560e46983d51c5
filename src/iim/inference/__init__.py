"""Inference for users: the :class:`Predictor` (any image size, CPU or GPU), input handling, videos, output files.

Torch, OpenCV and the core packages only (Hydra is imported lazily, when a network is rebuilt from a config):

- :class:`Predictor` / :class:`Prediction` -- heads (points, boxes, count) in images, paths, arrays, PIL images
- :func:`as_rgb_array` -- what the Predictor accepts, as RGB uint8
- :func:`collect_inputs` -- files, folders and glob patterns as images and videos with output names
- :mod:`iim.inference.video` -- frames in, overlay videos out (OpenCV)
- :class:`OutputPlan` -- the files ``iim-predict`` writes, never overwriting unless asked
- :mod:`iim.inference.export` -- ONNX and TorchScript graphs of a network
"""

from iim.inference.images import InputError, as_rgb_array
from iim.inference.outputs import OutputError, OutputPlan
from iim.inference.predictor import Prediction, Predictor, resolve_device
from iim.inference.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputItem, collect_inputs

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "InputError",
    "InputItem",
    "OutputError",
    "OutputPlan",
    "Prediction",
    "Predictor",
    "as_rgb_array",
    "collect_inputs",
    "resolve_device",
]
