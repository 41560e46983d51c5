"""The compressed sigmoid that keeps IIM's learned thresholds inside (0.2, 0.7)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iim.modules.configurable import Configurable

__all__ = ["CompressedSigmoid", "compressed_sigmoid"]


def compressed_sigmoid(x: Tensor, k: float = 10.0) -> Tensor:
    """``1 / (2 + exp(-k x)) + 0.2``: a sigmoid squeezed into the open range (0.2, 0.7).

    At ``x = 0`` it is ``0.5333``, the initial threshold of every IIM threshold encoder.

    Args:
        x: Any tensor.
        k: Slope (10 in the original code, which writes it as ``compressedSigmoid(10 * x)``).

    Returns:
        A tensor of the same shape and dtype as ``x`` with values in (0.2, 0.7).

    Shape:
        - x: :math:`(*)`
        - output: :math:`(*)`
    """
    # 1 / (2 + e^{-z}) == sigmoid-like but bounded by 1/2; written with exp(-z) clamped so that large negative z gives
    # 0.2 (not nan) in low precision.
    z = (-k * x).clamp(max=80.0)
    return 1.0 / (2.0 + torch.exp(z)) + 0.2


class CompressedSigmoid(Configurable, nn.Module):
    """Module form of :func:`compressed_sigmoid`.

    Args:
        k: Slope, 10 by default as in the original.

    Shape:
        - input: :math:`(*)`
        - output: :math:`(*)`, values in (0.2, 0.7)
    """

    lower: float = 0.2
    upper: float = 0.7

    def __init__(self, k: float = 10.0) -> None:
        super().__init__()
        self.k = float(k)

    def forward(self, x: Tensor) -> Tensor:
        """Apply ``1 / (2 + exp(-k x)) + 0.2``."""
        return compressed_sigmoid(x, self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"
