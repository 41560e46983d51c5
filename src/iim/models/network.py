"""IIMNet: the whole IIM network, from an image to its confidence, threshold and binary maps."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from iim.models.predictor import ConfidencePredictor
from iim.modules.binarization import BinarizationLayer
from iim.modules.configurable import Configurable
from iim.modules.output import IIMOutput

__all__ = ["IIMNet", "IIMOutput"]


class IIMNet(Configurable, nn.Module):
    """Confidence predictor + threshold encoder + binarization layer, for inputs of any size.

    The input is zero-padded at the bottom and right to a multiple of ``size_divisor`` (in normalised space, as the
    original does) and every output is cropped back, so any ``H x W`` works, down to 1x1.

    Args:
        predictor: The confidence branch.
        threshold_encoder: A module called as ``encoder(features, confidence)`` (e.g.
            :class:`~iim.modules.FixedThreshold`), or a factory called with ``in_channels=predictor.feature_channels``
            that builds one (:class:`~iim.modules.PixelThresholdEncoder`, :class:`~iim.modules.ImageThresholdEncoder`).
        binarizer: The binarization layer (``grad_scale`` 0.2 as in the original). Defaults to ``BinarizationLayer()``.
        size_divisor: Pad inputs to a multiple of this; defaults to the least common multiple of the predictor's and
            the threshold encoder's requirements.

    Shape:
        - input: :math:`(B, 3, H, W)`, any ``H, W >= 1``
        - output: :class:`IIMOutput` of three :math:`(B, 1, H, W)` maps
    """

    def __init__(
        self,
        predictor: ConfidencePredictor,
        threshold_encoder: nn.Module | Callable[..., nn.Module],
        binarizer: BinarizationLayer | None = None,
        size_divisor: int | None = None,
    ) -> None:
        super().__init__()
        self.predictor = predictor
        if isinstance(threshold_encoder, nn.Module):
            self.threshold_encoder = threshold_encoder
        else:
            self.threshold_encoder = threshold_encoder(in_channels=predictor.feature_channels)
        self.binarizer = binarizer if binarizer is not None else BinarizationLayer()
        if size_divisor is None:
            size_divisor = math.lcm(predictor.size_divisor, int(getattr(self.threshold_encoder, "downsample", 1)))
        if size_divisor < 1:
            raise ValueError(f"IIMNet: `size_divisor` must be positive, got {size_divisor}")
        self.size_divisor = int(size_divisor)

    def confidence_parameters(self) -> list[nn.Parameter]:
        """Parameters of the confidence predictor (backbone, neck, head)."""
        return list(self.predictor.parameters())

    def threshold_parameters(self) -> list[nn.Parameter]:
        """Parameters of the threshold encoder (empty for a fixed threshold)."""
        return list(self.threshold_encoder.parameters())

    def maps(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """The confidence and threshold maps without the binarization step (what inference and export need).

        Shape:
            - image: :math:`(B, C, H, W)`
            - output: two :math:`(B, 1, H, W)` maps
        """
        if image.dim() != 4:
            raise ValueError(f"IIMNet: expected an image batch (B, C, H, W), got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        d = self.size_divisor
        pad_h, pad_w = (-h) % d, (-w) % d
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h))
        features, confidence = self.predictor(image)
        threshold = self.threshold_encoder(features, confidence)
        if pad_h or pad_w:
            confidence = confidence[..., :h, :w]
            threshold = threshold[..., :h, :w]
        return confidence, threshold

    def forward(self, image: Tensor) -> IIMOutput:
        """Predict the confidence, threshold and binary maps of a batch of images."""
        confidence, threshold = self.maps(image)
        binary = self.binarizer(confidence, threshold)
        return IIMOutput(confidence=confidence, threshold=threshold, binary=binary)
