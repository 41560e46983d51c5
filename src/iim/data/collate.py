"""Batching crowd samples: fixed-size tensors stacked, per-image heads kept as lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["collate_crowd"]


def collate_crowd(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``image`` and ``instance_map``; keep ``points``, ``boxes``, ``image_id`` and ``meta`` as lists.

    Returns:
        ``{"image": (B, 3, H, W), "instance_map": (B, 1, H, W), "points": [(N_i, 2)], "boxes": [(N_i, 4)],
        "head_ids": [(N_i,)], "image_id": [str], "meta": [dict]}``.

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
        "image": torch.stack([s["image"] for s in samples]),
        "instance_map": torch.stack([s["instance_map"] for s in samples]),
        "points": [s["points"] for s in samples],
        "boxes": [s["boxes"] for s in samples],
        "head_ids": [s["head_ids"] for s in samples],
        "image_id": [s["image_id"] for s in samples],
        "meta": [s["meta"] for s in samples],
    }
