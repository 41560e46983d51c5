"""Neighbour hints: the instance map of rescaled heads built from hints equals the one built without them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iim.targets import NeighbourHints, boxes_to_instance_map, instance_layout, neighbour_hints
from iim.targets._kernels import ORDER_WIDTH, neighbour_order, neighbour_order_hinted

MODES = ["original", "separate"]


def _move(boxes: np.ndarray, kx: float, ky: float, shift_x: float, shift_y: float, flip_width: int) -> np.ndarray:
    """Boxes through a scale, a shift and an optional horizontal flip, in float32 as the training pipeline does."""
    b = boxes.astype(np.float32)
    out = np.empty_like(b)
    out[:, [0, 2]] = (b[:, [0, 2]] * np.float32(kx)) + np.float32(shift_x)
    out[:, [1, 3]] = (b[:, [1, 3]] * np.float32(ky)) + np.float32(shift_y)
    if flip_width:
        out[:, [0, 2]] = np.float32(flip_width) - out[:, [2, 0]]
    return out.astype(np.float64)


@st.composite
def crowds(draw):
    """Heads in clusters of every density (duplicates and exact ties included), some boxes off the image."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 120))
        spread = draw(st.sampled_from([1.0, 4.0, 15.0, 60.0, 200.0]))
        centre = rng.uniform(-20, 300, size=2)
        xy = centre + rng.normal(0, spread, size=(n, 2))
        if draw(st.booleans()):
            xy = np.round(xy)  # integer centres: many equal distances
        parts.append(xy)
    xy = np.concatenate(parts)
    side = rng.uniform(1, 50, size=(len(xy), 2))
    return np.concatenate([xy - side / 2, xy + side / 2], axis=1)


@settings(max_examples=80, deadline=None)
@given(
    boxes=crowds(),
    kx=st.floats(0.3, 3.0),
    aniso=st.floats(0.8, 1.25),
    shift=st.tuples(st.floats(-300, 300), st.floats(-300, 300)),
    flip=st.booleans(),
    n_candidates=st.sampled_from([1, 3, 8, 16]),
    mode=st.sampled_from(MODES),
)
def test_hinted_maps_equal_plain_maps(boxes, kx, aniso, shift, flip, n_candidates, mode):
    ky = kx * aniso
    moved = _move(boxes, kx, ky, *shift, flip_width=700 if flip else 0)
    hints = neighbour_hints(boxes, n_candidates)
    h, w = 500, 700
    plain = instance_layout(moved, h, w, mode=mode)
    hinted = instance_layout(moved, h, w, mode=mode, hints=hints, hint_scale=min(kx, ky))
    for a, b in zip(plain, hinted):
        assert np.array_equal(a, b)
    window = (50, 20, 600, 400)
    assert np.array_equal(
        boxes_to_instance_map(moved, h, w, mode=mode, window=window),
        boxes_to_instance_map(moved, h, w, mode=mode, window=window, hints=hints, hint_scale=min(kx, ky)),
    )


@settings(max_examples=40, deadline=None)
@given(boxes=crowds(), n_candidates=st.sampled_from([1, 4, 16]))
def test_reach_bounds_every_head_left_out(boxes, n_candidates):
    hints = neighbour_hints(boxes, n_candidates)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    for i in range(len(boxes)):
        listed = hints.candidates[i][hints.candidates[i] >= 0]
        assert i not in listed
        others = np.setdiff1d(np.arange(len(boxes)), np.append(listed, i))
        if len(others) == 0:
            assert hints.reach[i] == np.inf
        else:
            assert len(listed) == n_candidates
            assert np.linalg.norm(centres[others] - centres[i], axis=1).min() >= hints.reach[i]


def test_hints_are_trusted_where_their_bound_holds():
    # Head 0's hints list five far heads and claim every other head is farther still: the hinted search takes
    # that answer (the fast path), the plain search finds the true neighbours. Real hints never lie like this.
    cx = np.array([0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104], dtype=np.int64)
    cy = np.zeros_like(cx)
    cands = np.full((len(cx), 5), -1, dtype=np.int32)
    cands[0] = [6, 7, 8, 9, 10]
    reach = np.full(len(cx), 0.0)  # every other head: no bound, so searched in full
    reach[0] = 1e6
    hinted = neighbour_order_hinted(cx, cy, ORDER_WIDTH, cands, reach, 1.0)
    plain = neighbour_order(cx, cy, ORDER_WIDTH)
    assert hinted[0].tolist() == [0, 6, 7, 8, 9, 10]
    assert plain[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert np.array_equal(hinted[1:], plain[1:])


def test_hints_that_do_not_fit_are_rejected():
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], dtype=float)
    hints = neighbour_hints(boxes, 2)
    assert hints.candidates.dtype == np.int32 and hints.candidates.shape == (3, 2)
    with pytest.raises(ValueError, match="hints` are for other heads"):
        boxes_to_instance_map(boxes[:2], 20, 60, hints=hints)
    with pytest.raises(ValueError, match="must be NeighbourHints"):
        boxes_to_instance_map(boxes, 20, 60, hints=(hints.candidates, hints.reach))
    own = NeighbourHints(np.array([[0, 1], [0, 2], [0, 1]], dtype=np.int32), hints.reach)
    with pytest.raises(ValueError, match="malformed"):
        boxes_to_instance_map(boxes, 20, 60, hints=own)
    twice = NeighbourHints(np.array([[1, 1], [0, 2], [0, 1]], dtype=np.int32), hints.reach)
    with pytest.raises(ValueError, match="each once"):
        boxes_to_instance_map(boxes, 20, 60, hints=twice)
    with pytest.raises(ValueError, match="hint_scale"):
        boxes_to_instance_map(boxes, 20, 60, hints=hints, hint_scale=0.0)
    with pytest.raises(ValueError, match="n_candidates"):
        neighbour_hints(boxes, 0)
    assert neighbour_hints(np.zeros((0, 4)), 4).candidates.shape == (0, 4)
