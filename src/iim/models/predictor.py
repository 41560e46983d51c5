"""The confidence predictor: backbone + neck + head, with every width read from the backbone."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from iim.models.backbone import TimmBackbone
from iim.modules.configurable import Configurable

__all__ = ["ConfidencePredictor"]

NeckFactory = Callable[..., nn.Module]
HeadFactory = Callable[..., nn.Module]


class ConfidencePredictor(Configurable, nn.Module):
    """Backbone, neck and head of IIM's confidence branch.

    ``neck`` and ``head`` are factories (classes or ``functools.partial``; ``_partial_: true`` in Hydra configs) that
    receive the widths they need, so no channel count is ever written by hand: the neck is called as
    ``neck(in_channels=backbone.channels, strides=backbone.strides)`` and the head as
    ``head(in_channels=neck.out_channels, stride=neck.stride)``.

    Args:
        backbone: A :class:`~iim.models.TimmBackbone` (anything with ``channels`` and ``strides``).
        neck: Factory of the neck (:class:`~iim.models.FPNNeck`, :class:`~iim.models.ConcatNeck`, ...).
        head: Factory of the head (:class:`~iim.models.ConfidenceHead`).

    Attributes:
        feature_channels: Channels of the features handed to the threshold encoder (the neck's output).
        size_divisor: Input sides must be multiples of this (the coarsest backbone stride).

    Shape:
        - input: :math:`(B, 3, H, W)`, ``H`` and ``W`` multiples of ``size_divisor``
        - output: ``(features, confidence)``: :math:`(B, C, H / 4, W / 4)` and :math:`(B, 1, H, W)`
    """

    def __init__(self, backbone: TimmBackbone, neck: NeckFactory, head: HeadFactory) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck(in_channels=list(backbone.channels), strides=list(backbone.strides))
        self.head = head(in_channels=int(self.neck.out_channels), stride=int(self.neck.stride))
        self.feature_channels = int(self.neck.out_channels)
        self.size_divisor = int(max(backbone.strides))

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """Return the neck's features and the full-resolution confidence map."""
        features = self.neck(self.backbone(image))
        return features, self.head(features)
