"""Feature Pyramid Network neck, as in the original IIM's VGG16_FPN: levels fused top-down, then concatenated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iim.models._checks import check_levels
from iim.modules.configurable import Configurable

__all__ = ["FPNNeck"]


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FPNNeck(Configurable, nn.Module):
    """FPN over the backbone's levels, every level upsampled (nearest) to the finest and concatenated.

    Lateral 1x1 conv (no bias) + BN + ReLU per level; top-down, each level adds the nearest-upsampled coarser one; a
    3x3 conv (no bias) + BN + ReLU per level; Xavier-uniform init of the convolutions. With VGG-16-BN's levels at 1/4,
    1/8, 1/16 (256, 512, 512 channels) and ``out_channels=256`` this is the original's 768-channel map at 1/4.

    Args:
        in_channels: Channels of each backbone level, fine to coarse (from ``feature_info``).
        strides: Stride of each level, fine to coarse.
        out_channels: Channels of each FPN level; the output has ``out_channels * len(in_channels)``.

    Attributes:
        out_channels: Channels of the concatenated output.
        stride: Stride of the output (the finest level's).

    Shape:
        - input: a list of :math:`(B, C_i, H / s_i, W / s_i)`
        - output: :math:`(B, L \\cdot out, H / s_0, W / s_0)`
    """

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], out_channels: int = 256) -> None:
        super().__init__()
        check_levels(type(self).__name__, in_channels, strides)
        self.lateral = nn.ModuleList(_conv_bn_relu(c, out_channels, 1) for c in in_channels)
        self.output = nn.ModuleList(_conv_bn_relu(out_channels, out_channels, 3) for _ in in_channels)
        self.out_channels = out_channels * len(in_channels)
        self.stride = int(strides[0])
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Fuse the pyramid and return the concatenated finest-resolution map."""
        if len(features) != len(self.lateral):
            raise ValueError(f"FPNNeck: expected {len(self.lateral)} feature levels, got {len(features)}")
        lat = [conv(f) for conv, f in zip(self.lateral, features)]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + F.interpolate(lat[i], size=lat[i - 1].shape[-2:], mode="nearest")
        outs = [conv(x) for conv, x in zip(self.output, lat)]
        size = outs[0].shape[-2:]
        return torch.cat([outs[0], *(F.interpolate(o, size=size, mode="nearest") for o in outs[1:])], dim=1)
