"""Small argument checks shared by the model blocks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def check_levels(name: str, in_channels: Sequence[int], strides: Sequence[int]) -> None:
    """Raise a ``ValueError`` unless ``in_channels``/``strides`` describe a fine-to-coarse feature pyramid."""
    if len(in_channels) == 0 or len(in_channels) != len(strides):
        raise ValueError(
            f"{name}: `in_channels` {list(in_channels)} and `strides` {list(strides)} must be non-empty and of "
            "equal length"
        )
    if any(b % a for a, b in itertools.pairwise(strides)) or list(strides) != sorted(strides):
        raise ValueError(f"{name}: `strides` must increase, each dividing the next, got {list(strides)}")
