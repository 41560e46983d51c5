"""Splitting touching heads: a component with several confidence peaks becomes one instance per peak."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iim.ops import SPLIT_MIN_DISTANCE, extract_instances, extract_instances_batch, split_touching


def _blobs(centres: list[tuple[float, float]], shape: tuple[int, int] = (48, 64), sigma: float = 3.0) -> np.ndarray:
    """A confidence map: the max of Gaussian bumps of height 1 at ``(x, y)`` centres."""
    ys, xs = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    conf = np.zeros(shape, dtype=np.float32)
    for x, y in centres:
        conf = np.maximum(conf, np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return conf


def test_two_touching_heads_become_two_instances_at_their_peaks():
    conf = _blobs([(20, 20), (28, 20)])  # 8 px apart: one component at 0.3
    binary = conf >= 0.3
    assert extract_instances(binary).count == 1
    inst = extract_instances(binary, split_heads=True, confidence=conf)
    assert inst.count == 2
    np.testing.assert_allclose(np.sort(inst.points[:, 0]), [20, 28], atol=1.0)
    np.testing.assert_allclose(inst.points[:, 1], [20, 20], atol=0.5)
    assert inst.areas.sum() == binary.sum()  # every pixel in exactly one piece
    left, right = inst.boxes[np.argsort(inst.points[:, 0])]
    assert left[2] <= right[0] + 1  # the cut runs between the peaks


def test_separate_heads_are_left_exactly_as_without_splitting():
    conf = _blobs([(10, 10), (40, 30), (55, 8)])
    binary = conf >= 0.5
    plain = extract_instances(binary)
    split = extract_instances(binary, split_heads=True, confidence=torch.from_numpy(conf)[None])
    for a, b in zip(plain, split, strict=True):
        np.testing.assert_array_equal(a, b)
    assert plain.count == 3


def test_a_merged_pair_beside_single_heads_keeps_raster_order_and_min_area():
    conf = _blobs([(8, 8), (30, 24), (37, 24), (56, 40)])
    binary = conf >= 0.3
    inst = extract_instances(binary, split_heads=True, confidence=conf, split_min_distance=5)
    assert inst.count == 4
    # at the default distance (8 px, SPLIT_MIN_DISTANCE) peaks 7 px apart are one head
    assert SPLIT_MIN_DISTANCE == 8 and extract_instances(binary, split_heads=True, confidence=conf).count == 3
    # raster order of each instance's first pixel: the pair's pieces start on the same row, the left one first
    np.testing.assert_allclose(inst.points, [[8, 8], [30, 24], [37, 24], [56, 40]], atol=1.0)
    assert (
        extract_instances(binary, split_heads=True, confidence=conf, min_area=10_000, split_min_distance=5).count == 0
    )


def test_peaks_closer_than_min_distance_stay_one_head():
    conf = _blobs([(20, 20), (25, 20)], sigma=3.0)
    binary = conf >= 0.3
    assert extract_instances(binary, split_heads=True, confidence=conf, split_min_distance=8).count == 1


def test_batch_and_labels():
    conf = np.stack([_blobs([(20, 20), (28, 20)]), _blobs([(10, 10)])])
    binary = conf >= 0.3
    counts = [i.count for i in extract_instances_batch(binary[:, None], split_heads=True, confidence=conf[:, None])]
    assert counts == [2, 1]
    labels, n = split_touching(binary[0].astype(np.uint8), conf[0])
    assert n == 2 and labels.dtype == np.int32 and set(np.unique(labels)) == {0, 1, 2}


def test_bad_arguments_are_named():
    conf = _blobs([(20, 20)])
    with pytest.raises(ValueError, match="confidence"):
        extract_instances(conf >= 0.5, split_heads=True)
    with pytest.raises(ValueError, match="shape"):
        split_touching((conf >= 0.5).astype(np.uint8), conf[:10])
    with pytest.raises(ValueError, match="min_distance"):
        split_touching((conf >= 0.5).astype(np.uint8), conf, min_distance=0)
    with pytest.raises(ValueError, match="confidence maps"):
        extract_instances_batch(np.stack([conf >= 0.5] * 2), split_heads=True, confidence=np.stack([conf] * 3))
