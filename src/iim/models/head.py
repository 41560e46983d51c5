"""The confidence head: features at 1/4 to a full-resolution confidence map in (0, 1)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from iim.modules.configurable import Configurable

__all__ = ["ConfidenceHead"]


class ConfidenceHead(Configurable, nn.Module):
    """1x1 conv + BN + ReLU, then stride-2 transposed convolutions up to full resolution, then a sigmoid.

    For ``stride=4`` this is the original's ``de_pred`` / ``last_layer``: Conv1x1(C->C) + BN + ReLU, ConvT(C->64, k4,
    s2, p1) + ReLU, ConvT(64->1, k4, s2, p1), Sigmoid. The 1x1 conv is initialised normal(``init_std``) with zero bias
    (0.01 in the original VGG, 0.001 in its HRNet); the transposed convolutions keep PyTorch's default init, as there.

    Args:
        in_channels: Channels of the neck's output (read from the neck).
        stride: Stride of the neck's output; a power of two. One transposed convolution per factor 2.
        mid_channels: Channels of the 1x1 conv (defaults to ``in_channels`` as in the original).
        deconv_channels: Channels between the transposed convolutions (64 in the original).
        init_std: Standard deviation of the 1x1 conv's init.

    Shape:
        - input: :math:`(B, C, H / s, W / s)`
        - output: :math:`(B, 1, H, W)`, values in (0, 1)
    """

    def __init__(
        self,
        in_channels: int,
        stride: int = 4,
        mid_channels: int | None = None,
        deconv_channels: int = 64,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if stride < 2 or stride & (stride - 1):
            raise ValueError(f"ConfidenceHead: `stride` must be a power of two >= 2, got {stride}")
        mid = in_channels if mid_channels is None else mid_channels
        self.stride = stride
        self.project = nn.Sequential(nn.Conv2d(in_channels, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        c = mid
        n = int(math.log2(stride))
        for i in range(n):
            last = i == n - 1
            out = 1 if last else deconv_channels
            layers.append(nn.ConvTranspose2d(c, out, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.ReLU(inplace=True))
            c = out
        self.upsample = nn.Sequential(*layers)
        self.activation = nn.Sigmoid()
        nn.init.normal_(self.project[0].weight, std=init_std)
        nn.init.zeros_(self.project[0].bias)

    def forward(self, x: Tensor) -> Tensor:
        """Predict the confidence map."""
        return self.activation(self.upsample(self.project(x)))
