"""Tiled inference: run a network over an image of any size in tiles and stitch the maps back together.

The original runs an image in one pass when it has fewer than 2 x 512 x 2 x 1024 pixels and both sides are multiples
of 16. Otherwise it zero-pads the bottom and right to multiples of 16 (zero in normalised space) and runs 512 x 1024
tiles that do not overlap, except that the last row and column of tiles are shifted back to fit inside the image.
Where tiles overlap, the confidence AND threshold maps are averaged, and the binary map is recomputed on the stitched
maps as ``confidence >= threshold``. :func:`tile_windows` gives these windows; ``overlap`` adds more overlap for
smoother seams.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from iim.modules.output import IIMOutput

__all__ = ["tile_windows", "tiled_inference"]


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def tile_windows(
    height: int, width: int, tile_size: tuple[int, int] = (512, 1024), overlap: tuple[int, int] | int = 0
) -> list[tuple[int, int, int, int]]:
    """The tiles covering a ``height x width`` image, as ``(h0, h1, w0, w1)`` with exclusive ends, row by row.

    With ``overlap=0`` these are the original's tiles: a grid of ``tile_size`` tiles whose last row and column are
    shifted back to end at the image border (so they overlap their neighbours). A side shorter than the tile gives
    one tile of that side's length. ``overlap`` (pixels, per axis) makes neighbouring tiles share at least that much.

    Args:
        height: Image height (after any padding).
        width: Image width.
        tile_size: ``(tile_h, tile_w)``.
        overlap: Minimum overlap between neighbouring tiles, one int or ``(overlap_h, overlap_w)``.

    Returns:
        The windows.
    """
    th, tw = tile_size
    oh, ow = (overlap, overlap) if isinstance(overlap, int) else overlap
    if height < 1 or width < 1:
        raise ValueError(f"tile_windows: image size must be positive, got {height}x{width}")
    if th < 1 or tw < 1:
        raise ValueError(f"tile_windows: `tile_size` must be positive, got {tile_size}")
    if not (0 <= oh < th and 0 <= ow < tw):
        raise ValueError(f"tile_windows: `overlap` {overlap} must be >= 0 and smaller than the tile {tile_size}")
    th, tw = min(th, height), min(tw, width)
    rows = _starts(height, th, max(th - oh, 1))
    cols = _starts(width, tw, max(tw - ow, 1))
    return [(h0, h0 + th, w0, w0 + tw) for h0 in rows for w0 in cols]


def _maps(output: Any) -> tuple[Tensor, Tensor]:
    if isinstance(output, Mapping):
        return output["confidence"], output["threshold"]
    if hasattr(output, "confidence") and hasattr(output, "threshold"):
        return output.confidence, output.threshold
    if isinstance(output, tuple) and len(output) >= 2:
        return output[0], output[1]
    raise TypeError(
        "tiled_inference: the network must return an IIMOutput, a mapping with 'confidence' and 'threshold', or a "
        f"tuple (confidence, threshold, ...); got {type(output).__name__}"
    )


def _mirror_averaged(net: Callable[[Tensor], Any]) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``net`` on a batch and its horizontal mirror in one call; the two maps averaged (the mirror's flipped back)."""

    def run(x: Tensor) -> tuple[Tensor, Tensor]:
        confidence, threshold = _maps(net(torch.cat([x, x.flip(-1)])))
        n = x.shape[0]
        return (
            (confidence[:n] + confidence[n:].flip(-1)) / 2,
            (threshold[:n] + threshold[n:].flip(-1)) / 2,
        )

    return run


@torch.no_grad()
def tiled_inference(
    net: Callable[[Tensor], Any],
    image: Tensor,
    tile_size: tuple[int, int] = (512, 1024),
    overlap: tuple[int, int] | int = 0,
    size_divisor: int = 16,
    max_whole_pixels: int | None = 2 * 512 * 2 * 1024,
    tile_batch_size: int = 4,
    crop_padding: bool = True,
    pad_whole: bool = False,
    hflip: bool = False,
) -> IIMOutput:
    """Predict the confidence, threshold and binary maps of images of any size, tile by tile.

    Args:
        net: Called on a batch of tiles; returns an :class:`~iim.models.IIMOutput` (or a mapping / tuple with the
            confidence and threshold maps first).
        image: Normalised images, all the same size (on the network's device).
        tile_size: ``(tile_h, tile_w)``; the original's 512 x 1024 by default.
        overlap: Extra overlap between tiles in pixels (0 = the original's tiling).
        size_divisor: The image is zero-padded at the bottom and right to a multiple of this (16 as the original).
        max_whole_pixels: Images with fewer pixels whose sides are multiples of ``size_divisor`` run in one pass,
            as in the original; ``None`` always tiles.
        tile_batch_size: How many tiles (per image) go through the network at once.
        crop_padding: Crop the padded border off the outputs (iim's default). The original keeps it and extracts
            components on the padded maps; ``False`` reproduces that.
        pad_whole: Also run an image in one pass when its size is not a multiple of ``size_divisor`` but its padded
            size has fewer than ``max_whole_pixels`` pixels (a 1920 x 1080 frame: one 1920 x 1088 pass instead of
            six overlapping tiles, a third less work and no seams). The original tiles such images (``False``,
            the default here and in validation; the :class:`~iim.inference.Predictor` turns it on).
        hflip: Test-time augmentation: run every pass on the images and on their mirror images too, and average the
            confidence and threshold maps (the mirror's flipped back) before binarizing. Twice the work; off by
            default, as the original.

    Returns:
        The stitched maps, each :math:`(B, 1, H, W)` (or the padded size when ``crop_padding`` is false); ``binary``
        is ``confidence >= threshold`` on the stitched maps, in the confidence's dtype.

    Shape:
        - image: :math:`(B, C, H, W)` or :math:`(C, H, W)`
        - output: three :math:`(B, 1, H, W)` maps
    """
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4:
        raise ValueError(f"tiled_inference: `image` must be (B, C, H, W) or (C, H, W), got {tuple(image.shape)}")
    if size_divisor < 1 or tile_batch_size < 1:
        raise ValueError(
            f"tiled_inference: `size_divisor` ({size_divisor}) and `tile_batch_size` ({tile_batch_size}) must be >= 1"
        )
    if hflip:
        net = _mirror_averaged(net)
    b, _, h, w = image.shape
    pad_h, pad_w = (-h) % size_divisor, (-w) % size_divisor
    whole = max_whole_pixels is not None and (
        (h * w < max_whole_pixels and not (pad_h or pad_w))
        or (pad_whole and (h + pad_h) * (w + pad_w) < max_whole_pixels)
    )
    padded = F.pad(image, (0, pad_w, 0, pad_h)) if pad_h or pad_w else image
    if whole:
        confidence, threshold = _maps(net(padded))
    else:
        hp, wp = padded.shape[-2:]
        windows = tile_windows(hp, wp, tile_size, overlap)
        confidence = threshold = None
        count = torch.zeros((1, 1, hp, wp), device=image.device, dtype=torch.float32)
        for start in range(0, len(windows), tile_batch_size):
            group = windows[start : start + tile_batch_size]
            tiles = torch.cat([padded[:, :, h0:h1, w0:w1] for h0, h1, w0, w1 in group], dim=0)
            tile_conf, tile_thr = _maps(net(tiles))
            if confidence is None:
                confidence = torch.zeros((b, 1, hp, wp), device=image.device, dtype=torch.float32)
                threshold = torch.zeros_like(confidence)
            for k, (h0, h1, w0, w1) in enumerate(group):
                confidence[:, :, h0:h1, w0:w1] += tile_conf[k * b : (k + 1) * b].float()
                threshold[:, :, h0:h1, w0:w1] += tile_thr[k * b : (k + 1) * b].float()
                count[:, :, h0:h1, w0:w1] += 1
        assert confidence is not None and threshold is not None
        confidence, threshold = confidence / count, threshold / count
    if crop_padding:
        confidence, threshold = confidence[..., :h, :w], threshold[..., :h, :w]
    binary = (confidence >= threshold).to(confidence.dtype)
    return IIMOutput(confidence=confidence, threshold=threshold, binary=binary)
