"""Torch building blocks of IIM: the binarization step, the compressed sigmoid, the threshold encoders and the
named network output.

This package imports only torch, so other projects can use it without Lightning or Hydra::

    from iim.modules import BinarizationLayer
"""

from iim.modules.binarization import BinarizationLayer, binarize
from iim.modules.compressed_sigmoid import CompressedSigmoid, compressed_sigmoid
from iim.modules.configurable import Configurable, NotConfigurableError, to_config
from iim.modules.output import IIMOutput
from iim.modules.threshold import FixedThreshold, ImageThresholdEncoder, PixelThresholdEncoder

__all__ = [
    "BinarizationLayer",
    "CompressedSigmoid",
    "Configurable",
    "FixedThreshold",
    "IIMOutput",
    "ImageThresholdEncoder",
    "NotConfigurableError",
    "PixelThresholdEncoder",
    "binarize",
    "compressed_sigmoid",
    "to_config",
]
