"""IIMOutput: the three maps an IIM network returns, named."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["IIMOutput"]


class IIMOutput(NamedTuple):
    """The network's named outputs, each :math:`(B, 1, H, W)` at the input's size.

    Attributes:
        confidence: Confidence map ``P`` in (0, 1).
        threshold: Threshold map ``T`` (constant per image for IBM and fixed thresholds).
        binary: ``1[P >= T]``; each 4-connected component is one head.
    """

    confidence: Tensor
    threshold: Tensor
    binary: Tensor
