"""Image normalisation on the model's device: uint8 RGB batches to the normalised float input of the network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "normalize_image"]

# ImageNet's RGB statistics in [0, 1]: the default wherever a dataset brings none (written here once)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_image(
    image: Tensor, mean: Sequence[float], std: Sequence[float], dtype: torch.dtype = torch.float32
) -> Tensor:
    """``(image / 255 - mean) / std`` per channel, on the image's device (a new tensor).

    The data pipeline keeps samples in uint8 (four times lighter to move); the training task, the evaluator and the
    predictor call this on the device right before the network.

    Args:
        image: RGB images, uint8 in [0, 255] (or float already in [0, 255]).
        mean: Per-channel mean in [0, 1] (the dataset's; ImageNet's is :data:`IMAGENET_MEAN`).
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
    m = torch.tensor([255.0 * v for v in mean], dtype=dtype, device=image.device)
    s = torch.tensor([1.0 / (255.0 * v) for v in std], dtype=dtype, device=image.device)
    out, rows = _new_like(image, dtype)
    out.copy_(image)
    # In place on that copy, ``(x - m) * s`` (the same arithmetic, element for element, as out of place, without two
    # more full-size temporaries). Broadcasting a per-channel vector over an interleaved (channels-last) layout is
    # several times slower than over contiguous rows, so such images are seen as rows of W * C values with the
    # vectors tiled W times.
    if rows is not None:
        width = rows.shape[1] // len(mean)
        rows.sub_(m.repeat(width)).mul_(s.repeat(width))
    else:
        out.sub_(m.view(-1, 1, 1)).mul_(s.view(-1, 1, 1))
    return out


def _new_like(image: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor | None]:
    """A new, empty tensor shaped like ``image``, with its channels interleaved in memory when ``image``'s are (then
    also a ``(rows, W * C)`` view of it), else contiguous (and ``None``).

    Strides are made afresh: ``Tensor.to(copy=True)`` would keep any stride of a size-1 dimension (a numpy view's
    batch stride of 0, say), which sends the convolutions after it down a slow path.

    Shape:
        - image: :math:`(B, C, H, W)` or :math:`(C, H, W)`
        - output: the same; rows :math:`(B H, W C)` or :math:`(H, W C)`
    """
    to_hwc = (0, 2, 3, 1) if image.dim() == 4 else (1, 2, 0)
    to_chw = (0, 3, 1, 2) if image.dim() == 4 else (2, 0, 1)
    hwc_shape = tuple(image.shape[d] for d in to_hwc)
    if image.shape[-3] > 1 and not image.is_contiguous() and image.permute(to_hwc).is_contiguous():
        hwc = torch.empty(hwc_shape, dtype=dtype, device=image.device)
        return hwc.permute(to_chw), hwc.view(-1, hwc_shape[-2] * hwc_shape[-1])
    return torch.empty(image.shape, dtype=dtype, device=image.device), None
