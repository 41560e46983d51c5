"""Concatenation neck, as in the original IIM's HRNet-W48: every branch upsampled to the finest and concatenated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iim.models._checks import check_levels
from iim.modules.configurable import Configurable

__all__ = ["ConcatNeck"]


class ConcatNeck(Configurable, nn.Module):
    """Upsample every level to the finest one and concatenate them (no parameters).

    HRNet-W48's raw branches (48, 96, 192, 384 channels at 1/4 to 1/32) give the original's 720 channels at 1/4.

    Args:
        in_channels: Channels of each level, fine to coarse (from ``feature_info``).
        strides: Stride of each level, fine to coarse.
        mode: Interpolation mode (``bilinear`` as in the original, or ``nearest``).

    Attributes:
        out_channels: ``sum(in_channels)``.
        stride: Stride of the output (the finest level's).

    Shape:
        - input: a list of :math:`(B, C_i, H / s_i, W / s_i)`
        - output: :math:`(B, \\sum C_i, H / s_0, W / s_0)`
    """

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], mode: str = "bilinear") -> None:
        super().__init__()
        check_levels(type(self).__name__, in_channels, strides)
        if mode not in {"bilinear", "nearest"}:
            raise ValueError(f"ConcatNeck: `mode` must be 'bilinear' or 'nearest', got {mode!r}")
        self.mode = mode
        self.num_levels = len(in_channels)
        self.out_channels = int(sum(in_channels))
        self.stride = int(strides[0])

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Concatenate all levels at the finest resolution."""
        if len(features) != self.num_levels:
            raise ValueError(f"ConcatNeck: expected {self.num_levels} feature levels, got {len(features)}")
        size = features[0].shape[-2:]
        kwargs = {"align_corners": False} if self.mode == "bilinear" else {}
        ups = [F.interpolate(f, size=size, mode=self.mode, **kwargs) for f in features[1:]]
        return torch.cat([features[0], *ups], dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, out_channels={self.out_channels}, stride={self.stride}"
