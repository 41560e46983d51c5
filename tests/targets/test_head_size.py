"""Head boxes from points: nearest-neighbour sizes, bounds, image clipping, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from iim.targets import estimate_head_sides, points_to_boxes


def test_single_head_gets_the_default_side():
    boxes = points_to_boxes([[50.0, 40.0]], 100, 100, default_side=20.0)
    assert boxes.tolist() == [[40.0, 30.0, 60.0, 50.0]]
    assert estimate_head_sides([[5.0, 5.0]], default_side=100.0, max_side=64.0).tolist() == [64.0]


def test_square_lattice_interior_side_is_the_spacing_times_factor():
    xs, ys = np.meshgrid(np.arange(10) * 12.0, np.arange(10) * 12.0)
    points = np.stack([xs.ravel(), ys.ravel()], axis=1) + 20
    sides = estimate_head_sides(points, k=3, factor=0.8, min_side=1.0)
    interior = ((points > 20) & (points < 20 + 9 * 12)).all(axis=1)
    assert np.allclose(sides[interior], 0.8 * 12.0)
    assert np.allclose(estimate_head_sides(points, k=4, factor=1.0, min_side=1.0)[interior], 12.0)


def test_min_and_max_side_clip():
    points = [[0.0, 0.0], [2.0, 0.0], [500.0, 500.0]]  # two near heads (2 px apart), one far away
    sides = estimate_head_sides(points, k=1, min_side=8.0, max_side=64.0)
    assert sides.tolist() == [8.0, 8.0, 64.0]
    assert estimate_head_sides(points, k=1, min_side=1.0).tolist() == [2.0, 2.0, 64.0]


def test_fewer_heads_than_k_uses_the_available_neighbours():
    sides = estimate_head_sides([[0.0, 0.0], [20.0, 0.0]], k=3, min_side=1.0)
    assert sides.tolist() == [20.0, 20.0]


def test_duplicates_count_as_distance_zero():
    sides = estimate_head_sides([[5.0, 5.0], [5.0, 5.0], [25.0, 5.0]], k=1, min_side=1.0)
    assert sides.tolist() == [1.0, 1.0, 20.0]


def test_boxes_are_clipped_to_the_image_and_points_into_it():
    boxes = points_to_boxes([[1.0, 98.0], [-3.0, 50.0], [150.0, 50.0]], 100, 120, k=1)
    # The points become (1, 98), (0, 50) and (119, 50); the first two are 48.01 px apart, the third is far (64 px).
    half = np.hypot(1.0, 48.0) / 2
    assert boxes[0].tolist() == pytest.approx([0.0, 98.0 - half, 1.0 + half, 99.0])  # bottom edge at H - 1
    assert boxes[1].tolist() == pytest.approx([0.0, 50.0 - half, half, 50.0 + half])
    assert boxes[2].tolist() == pytest.approx([119.0 - 32.0, 50.0 - 32.0, 119.0, 50.0 + 32.0])  # right edge at W - 1


@settings(max_examples=40, deadline=None)
@given(
    points=arrays(np.float64, st.tuples(st.integers(2, 60), st.just(2)), elements=st.floats(0, 200, width=32)),
    k=st.integers(1, 5),
)
def test_matches_a_brute_force_loop(points, k):
    sides = estimate_head_sides(points, k=k, factor=0.7, min_side=3.0, max_side=50.0)
    for i, p in enumerate(points):
        d = np.sort(np.hypot(*(points - p).T))[1 : k + 1]  # drop one zero: the point itself
        assert sides[i] == pytest.approx(np.clip(0.7 * d.mean(), 3.0, 50.0))


def test_empty_input():
    assert points_to_boxes([], 10, 10).shape == (0, 4)
    assert points_to_boxes(np.zeros((0, 2)), 10, 10).dtype == np.float64
    assert estimate_head_sides(np.zeros((0, 2))).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"points": [[1.0, 2.0, 3.0]]}, "`points` must have shape"),
        ({"points": [[np.nan, 2.0]]}, "`points` must hold finite values"),
        ({"height": 0}, "`height`"),
        ({"width": 2.5}, "`width`"),
        ({"k": 0}, "`k`"),
        ({"factor": -1.0}, "`factor`"),
        ({"min_side": 0.0}, "`min_side`"),
        ({"max_side": float("inf")}, "`max_side`"),
        ({"min_side": 10.0, "max_side": 5.0}, "`min_side`.*<= `max_side`"),
        ({"default_side": float("nan")}, "`default_side`"),
    ],
)
def test_errors_name_the_argument(kwargs, match):
    args = {"points": [[1.0, 2.0], [5.0, 6.0]], "height": 10, "width": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        points_to_boxes(args.pop("points"), args.pop("height"), args.pop("width"), **args)


@pytest.mark.data
def test_real_image_boxes_are_sane(shanghaitech):
    points, h, w = shanghaitech("A", 2)
    boxes = points_to_boxes(points, h, w)
    assert boxes.shape == (len(points), 4)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w - 1).all() and (boxes[:, 3] <= h - 1).all()
    sides = boxes[:, 2:] - boxes[:, :2]
    assert (sides <= 64.0 + 1e-9).all() and (sides > 0).all()
    # Away from the border the box is the full square around the (clipped) point.
    inner = (points > 40).all(axis=1) & (points[:, 0] < w - 41) & (points[:, 1] < h - 41)
    assert np.allclose((boxes[inner, :2] + boxes[inner, 2:]) / 2, points[inner])
    assert np.allclose(sides[inner, 0], sides[inner, 1]) and (sides[inner] >= 8.0 - 1e-9).all()
