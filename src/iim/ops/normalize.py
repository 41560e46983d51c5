"""Image normalisation on the model's device: uint8 RGB batches to the normalised float input of the network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["normalize_image"]


def normalize_image(
    image: Tensor, mean: Sequence[float], std: Sequence[float], dtype: torch.dtype = torch.float32
) -> Tensor:
    """``(image / 255 - mean) / std`` per channel, computed in one pass on the image's device.

    The data pipeline keeps samples in uint8 (four times lighter to move); the training task, the evaluator and the
    predictor call this on the device right before the network.

    Args:
        image: RGB images, uint8 in [0, 255] (or float already in [0, 255]).
        mean: Per-channel mean in [0, 1] (the dataset's; ImageNet's is ``(0.485, 0.456, 0.406)``).
        std: Per-channel standard deviation in [0, 1].
        dtype: Output dtype.

    Returns:
        The normalised images.

    Shape:
        - image: :math:`(B, 3, H, W)` or :math:`(3, H, W)`
        - output: same shape, ``dtype``
    """
    if image.dim() not in (3, 4) or image.shape[-3] != len(mean) or len(mean) != len(std):
        raise ValueError(
            f"normalize_image: expected (B, C, H, W) or (C, H, W) with C = len(mean) = len(std) = {len(mean)}, got "
            f"image {tuple(image.shape)}, {len(mean)} means and {len(std)} stds"
        )
    if any(s <= 0 for s in std):
        raise ValueError(f"normalize_image: every std must be > 0, got {list(std)}")
    shape = (-1, 1, 1)
    m = torch.tensor([255.0 * v for v in mean], dtype=dtype, device=image.device).view(shape)
    s = torch.tensor([1.0 / (255.0 * v) for v in std], dtype=dtype, device=image.device).view(shape)
    return (image.to(dtype) - m) * s
