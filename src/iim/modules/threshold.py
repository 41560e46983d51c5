"""Threshold encoders: from the predictor's features and confidence map to the threshold that binarizes it.

Three variants share one call signature, ``encoder(features, confidence) -> threshold`` with the threshold at the
confidence map's resolution, so the network and the ablations swap them through config alone:

- :class:`PixelThresholdEncoder` (PBM): one threshold per pixel, exactly the original code's ``BinarizedModule``.
- :class:`ImageThresholdEncoder` (IBM): one learned threshold per image (described in the paper, absent from the
  original code).
- :class:`FixedThreshold`: a constant (the paper's fixed-threshold baselines, 0.5 and 0.8).

The learned encoders detach their inputs, so the threshold branch never sends gradient into the backbone.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from iim.modules.compressed_sigmoid import CompressedSigmoid
from iim.modules.configurable import Configurable

__all__ = ["FixedThreshold", "ImageThresholdEncoder", "PixelThresholdEncoder"]


def _check_inputs(name: str, features: Tensor, confidence: Tensor, in_channels: int | None) -> None:
    if confidence.dim() != 4 or confidence.shape[1] != 1:
        raise ValueError(f"{name}: `confidence` must be (B, 1, H, W), got {tuple(confidence.shape)}")
    if features.dim() != 4 or features.shape[0] != confidence.shape[0]:
        raise ValueError(
            f"{name}: `features` must be (B, C, h, w) with the confidence's batch size {confidence.shape[0]}, "
            f"got {tuple(features.shape)}"
        )
    if in_channels is not None and features.shape[1] != in_channels:
        raise ValueError(f"{name}: expected {in_channels} feature channels, got {features.shape[1]}")


class PixelThresholdEncoder(Configurable, nn.Module):
    """Pixel-level Binarization Module (PBM): a threshold map computed at 1/8 of the confidence's resolution.

    Exactly the original ``BinarizedModule``: the confidence is downsampled to 1/8 and the features to the same size
    (nearest, from 1/4 that is a factor 1/2), both detached; their product goes through three 3x3 convolutions
    (256, 128, 64 channels, no bias) with PReLU, a 15x15 average pooling (zero padding counted), a 1x1 convolution to
    one channel, another 15x15 average pooling, the compressed sigmoid (range (0.2, 0.7), 0.533 at zero), and a nearest
    upsampling back to the confidence's size.

    Args:
        in_channels: Channels of the feature map (read from the predictor, e.g. 768 for VGG-16-FPN, 720 for HRNet-W48).
        hidden_channels: Widths of the three 3x3 convolutions.
        pool_size: Side of the two average poolings (15 in the original).
        downsample: Factor between the confidence map and the threshold encoder's resolution (8 in the original).
        k: Slope of the compressed sigmoid.

    Shape:
        - features: :math:`(B, C, H/4, W/4)` (any resolution at least ``H/downsample``)
        - confidence: :math:`(B, 1, H, W)`
        - output: :math:`(B, 1, H, W)`, values in (0.2, 0.7)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: tuple[int, int, int] = (256, 128, 64),
        pool_size: int = 15,
        downsample: int = 8,
        k: float = 10.0,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"PixelThresholdEncoder: `in_channels` must be positive, got {in_channels}")
        if pool_size % 2 != 1:
            raise ValueError(f"PixelThresholdEncoder: `pool_size` must be odd, got {pool_size}")
        self.in_channels = in_channels
        self.downsample = downsample
        layers: list[nn.Module] = []
        c = in_channels
        for h in hidden_channels:
            layers += [nn.Conv2d(c, h, 3, padding=1, bias=False), nn.PReLU()]
            c = h
        self.encoder = nn.Sequential(*layers)
        self.pool1 = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=True)
        self.project = nn.Conv2d(c, 1, 1, bias=False)
        self.pool2 = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=True)
        self.activation = CompressedSigmoid(k)

    def forward(self, features: Tensor, confidence: Tensor) -> Tensor:
        """Compute the per-pixel threshold map."""
        _check_inputs(type(self).__name__, features, confidence, self.in_channels)
        p = F.interpolate(confidence.detach(), scale_factor=1.0 / self.downsample, mode="nearest")
        f = F.interpolate(features.detach(), size=p.shape[-2:], mode="nearest")
        x = self.encoder(f * p)
        x = self.pool2(self.project(self.pool1(x)))
        threshold = self.activation(x)
        return F.interpolate(threshold, size=confidence.shape[-2:], mode="nearest")


class ImageThresholdEncoder(Configurable, nn.Module):
    """Image-level Binarization Module (IBM): one learned threshold per image.

    The detached features are weighted by the detached confidence (nearest-resized to the features), projected to one
    channel by a 1x1 convolution, averaged over the whole image, and squashed by the compressed sigmoid, so the
    threshold starts at 0.533 like the PBM's. The original code has no IBM; this follows the paper's description.

    Args:
        in_channels: Channels of the feature map.
        k: Slope of the compressed sigmoid.

    Shape:
        - features: :math:`(B, C, h, w)`
        - confidence: :math:`(B, 1, H, W)`
        - output: :math:`(B, 1, H, W)`, constant over each image (an expanded view of :math:`(B, 1, 1, 1)`)
    """

    def __init__(self, in_channels: int, k: float = 10.0) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"ImageThresholdEncoder: `in_channels` must be positive, got {in_channels}")
        self.in_channels = in_channels
        self.project = nn.Conv2d(in_channels, 1, 1)
        self.activation = CompressedSigmoid(k)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def image_threshold(self, features: Tensor, confidence: Tensor) -> Tensor:
        """One threshold per image, shape :math:`(B, 1, 1, 1)`."""
        _check_inputs(type(self).__name__, features, confidence, self.in_channels)
        f = features.detach()
        p = F.interpolate(confidence.detach(), size=f.shape[-2:], mode="nearest")
        x = F.adaptive_avg_pool2d(self.project(f * p), 1)
        return self.activation(x)

    def forward(self, features: Tensor, confidence: Tensor) -> Tensor:
        """Compute the image-level threshold, broadcast to the confidence's size."""
        return self.image_threshold(features, confidence).expand_as(confidence)


class FixedThreshold(Configurable, nn.Module):
    """A constant threshold (the paper's fixed-threshold baselines); no parameters.

    Args:
        value: The threshold, in (0, 1]. The paper's Table 3 uses 0.5 and 0.8.

    Shape:
        - features: ignored
        - confidence: :math:`(B, 1, H, W)`
        - output: :math:`(B, 1, H, W)`, every value equal to ``value``
    """

    def __init__(self, value: float = 0.5) -> None:
        super().__init__()
        if not 0.0 < value <= 1.0:
            raise ValueError(f"FixedThreshold: `value` must be in (0, 1], got {value}")
        self.value = float(value)

    def forward(self, features: Tensor | None, confidence: Tensor) -> Tensor:
        """Return ``value`` everywhere, in the confidence's dtype and device."""
        if confidence.dim() != 4 or confidence.shape[1] != 1:
            raise ValueError(f"FixedThreshold: `confidence` must be (B, 1, H, W), got {tuple(confidence.shape)}")
        return confidence.new_full((1, 1, 1, 1), self.value).expand_as(confidence)

    def extra_repr(self) -> str:
        return f"value={self.value}"
