"""GT-loc sigmas, levels and lines: the reference line, the level boundaries, the official writer, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.reference_instance_map import reference_gt_loc
from iim.targets import LEVEL_BOUNDS, format_gt_loc_line, sigmas_and_levels


def test_gt_loc_line_reference_case():
    r = sigmas_and_levels([[100, 100, 130, 135]])
    assert r.center.tolist() == [[115, 117]]
    assert (r.sigma_s.tolist(), r.sigma_l.tolist(), r.level.tolist()) == ([15], [23], [3])
    assert r.zero_area.tolist() == [False]
    sigma_s, sigma_l, level = r[:3]
    assert (sigma_s[0], sigma_l[0], level[0]) == (15, 23, 3)
    assert format_gt_loc_line("3110", [[100, 100, 130, 135]]) == "3110 1 115 117 15 23 3"


@pytest.mark.parametrize(
    ("area", "level"),
    [
        (1, 0),
        (9, 0),
        (10, 0),  # exact powers of ten fall through to level 0
        (11, 1),
        (99, 1),
        (100, 0),
        (101, 2),
        (999, 2),
        (1000, 0),
        (1001, 3),
        (10000, 0),
        (10001, 4),
        (99999, 4),
        (100000, 0),
        (100001, 5),
    ],
)
def test_level_boundaries(area, level):
    assert sigmas_and_levels([[0, 0, area, 1]]).level.tolist() == [level]
    assert sigmas_and_levels([[0, 0, 1, area]]).level.tolist() == [level]
    assert area not in LEVEL_BOUNDS or level == 0


def test_zero_area_boxes_are_flagged_and_skipped_in_the_line_but_counted():
    boxes = [[100, 100, 130, 135], [5, 5, 5, 9], [7, 7, 12, 7], [10, 20, 14, 29]]
    r = sigmas_and_levels(boxes)
    assert r.zero_area.tolist() == [False, True, True, False]
    assert format_gt_loc_line(3110, boxes) == "3110 4 115 117 15 23 3 12 24 2 4 1"


def test_float_boxes_are_truncated_first_like_the_writer():
    a = sigmas_and_levels([[100.9, 100.2, 130.7, 135.99]])
    b = sigmas_and_levels([[100, 100, 130, 135]])
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


@settings(max_examples=100, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 700), st.integers(0, 700)),
        min_size=1,
        max_size=20,
    )
)
def test_matches_the_official_writer(boxes):
    xyxy = [(x, y, x + w, y + h) for x, y, w, h in boxes]
    r = sigmas_and_levels(xyxy)
    for i, box in enumerate(xyxy):
        ref = reference_gt_loc(box)
        assert r.zero_area[i] == (ref is None)
        if ref is not None:
            assert (*r.center[i].tolist(), r.sigma_s[i], r.sigma_l[i], r.level[i]) == ref
    kept = [reference_gt_loc(b) for b in xyxy if reference_gt_loc(b) is not None]
    expected = " ".join(["7", str(len(xyxy)), *(str(v) for t in kept for v in t)])
    assert format_gt_loc_line(7, xyxy) == expected


def test_empty_input():
    r = sigmas_and_levels(np.zeros((0, 4)))
    assert r.level.shape == (0,) and r.center.shape == (0, 2) and r.zero_area.shape == (0,)
    assert format_gt_loc_line("12", []) == "12 0"


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        ([[1, 2, 3]], "`boxes` must have shape"),
        ([[1, 2, 3, np.nan]], "NaN"),
        ([[10, 0, 5, 5]], "negative size"),
    ],
)
def test_errors_name_the_argument(boxes, match):
    with pytest.raises(ValueError, match=match):
        sigmas_and_levels(boxes)
    with pytest.raises(ValueError, match=match):
        format_gt_loc_line(1, boxes)
