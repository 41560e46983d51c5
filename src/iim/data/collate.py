"""Batching crowd samples: fixed-size tensors stacked, per-image heads kept as lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import get_worker_info

__all__ = ["collate_crowd"]


def _empty(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """An uninitialised tensor; in a DataLoader worker, in shared memory, so that sending it costs no copy."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=like.dtype)
    numel = 1
    for s in shape:
        numel *= s
    storage = like.untyped_storage()._new_shared(numel * like.element_size())
    return torch.empty(0, dtype=like.dtype).set_(storage).view(shape)


def _stack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.stack`` along a new batch dimension, keeping channels-last layouts.

    Images of :class:`~iim.data.CrowdTransform` are ``(C, H, W)`` views of ``(H, W, C)`` memory; such a batch is
    stacked as ``(B, H, W, C)`` (plain copies, no transposition) and returned as a ``(B, C, H, W)`` tensor in
    ``torch.channels_last`` layout. Anything else is stacked as usual.
    """
    first = tensors[0]
    if first.dim() == 3 and all(t.permute(1, 2, 0).is_contiguous() for t in tensors):
        c, h, w = first.shape
        out = _empty((len(tensors), h, w, c), first)
        torch.stack([t.permute(1, 2, 0) for t in tensors], out=out)
        return out.permute(0, 3, 1, 2)
    out = _empty((len(tensors), *first.shape), first)
    return torch.stack(list(tensors), out=out)


def collate_crowd(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``image`` and ``instance_map``; keep ``points``, ``boxes``, ``image_id`` and ``meta`` as lists.

    Returns:
        ``{"image": (B, 3, H, W), "instance_map": (B, 1, H, W), "points": [(N_i, 2)], "boxes": [(N_i, 4)],
        "head_ids": [(N_i,)], "image_id": [str], "meta": [dict]}``. The images are uint8 in
        ``torch.channels_last`` memory layout when the samples' images are channels-last views (as the pipeline's
        are); the instance maps are contiguous. In a DataLoader worker both are built in shared memory.

    Raises:
        ValueError: the images differ in size (whole-image evaluation needs ``batch_size=1``).
    """
    if not samples:
        raise ValueError("collate_crowd: empty batch")
    shapes = {tuple(s["image"].shape) for s in samples}
    if len(shapes) > 1:
        raise ValueError(
            f"collate_crowd: images of different sizes {sorted(shapes)} cannot be stacked; use batch_size=1 for "
            "whole-image evaluation or crop them to one size"
        )
    return {
        "image": _stack([s["image"] for s in samples]),
        "instance_map": _stack([s["instance_map"] for s in samples]),
        "points": [s["points"] for s in samples],
        "boxes": [s["boxes"] for s in samples],
        "head_ids": [s["head_ids"] for s in samples],
        "image_id": [s["image_id"] for s in samples],
        "meta": [s["meta"] for s in samples],
    }
