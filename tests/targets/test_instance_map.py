"""Instance maps from head boxes: the reference cases, equality with a plain loop, independence, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.reference_instance_map import reference_half_sizes, reference_instance_map
from iim.targets import boxes_to_instance_map, instance_layout
from iim.targets._kernels import ORDER_WIDTH, neighbour_order, touching_pairs

MODES = ["original", "separate"]


def components(mask: np.ndarray, connectivity: int = 4) -> list[tuple[int, int, int, int, int]]:
    """(pixels, x0, x1, y0, y1) of each component, half-open extents, sorted."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=connectivity)
    out = []
    for k in range(1, n):
        ys, xs = np.nonzero(labels == k)
        out.append((len(xs), int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1))
    return sorted(out, key=lambda c: (c[1], c[3]))


def _neighbour_order(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    return neighbour_order(
        np.ascontiguousarray(cx, dtype=np.int64), np.ascontiguousarray(cy, dtype=np.int64), ORDER_WIDTH
    )


# --- method.md section 12, "Mask generation" -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_case_a_three_separate_boxes_are_unchanged(mode):
    boxes = [[10, 10, 30, 30], [60, 10, 80, 30], [10, 60, 30, 80]]
    comps = components(boxes_to_instance_map(boxes, 100, 100, mode=mode))
    assert comps == [(400, 10, 30, 10, 30), (400, 10, 30, 60, 80), (400, 60, 80, 10, 30)]


@pytest.mark.parametrize("mode", MODES)
def test_case_b_two_overlapping_boxes_shrink_apart(mode):
    comps = components(boxes_to_instance_map([[10, 10, 50, 50], [30, 10, 70, 50]], 100, 100, mode=mode))
    assert comps == [(14 * 14, 23, 37, 23, 37), (16 * 16, 42, 58, 22, 38)]
    assert comps[1][1] - comps[0][2] == 5  # the gap


@pytest.mark.parametrize("mode", MODES)
def test_case_c_half_size_cap(mode):
    comps = components(boxes_to_instance_map([[50, 50, 250, 250]], 300, 300, mode=mode))
    assert comps == [(2500, 125, 175, 125, 175)]
    assert components(boxes_to_instance_map([[50, 50, 250, 250]], 300, 300, 15, mode=mode)) == [
        (900, 135, 165, 135, 165)
    ]


@pytest.mark.parametrize("mode", MODES)
def test_case_d_five_touching_boxes(mode):
    boxes = [[10 + 10 * i, 10, 20 + 10 * i, 20] for i in range(5)]
    comps = components(boxes_to_instance_map(boxes, 40, 80, mode=mode))
    assert comps == [(64, 11 + 10 * i, 19 + 10 * i, 11, 19) for i in range(5)]
    assert all(comps[i + 1][1] - comps[i][2] == 2 for i in range(4))


def test_next_neighbour_rule_hand_traced():
    # Head 0 (half 5) at x=50 and head 1 (half 5) at x=58 overlap; head 2 (half 20) at x=70 is the next neighbour
    # of head 0 and, larger than both and within 3 px, shrinks with every step of the pair (0, 1): 20, 18, 16, 14
    # while heads 0 and 1 go 5 -> 4 -> 3. The pair (0, 2) then takes it to 10, the pair (1, 2) to 5. Three far
    # heads make the next neighbour exist for every position (the original fails with fewer than 6 heads).
    boxes = [[45, 45, 55, 55], [53, 45, 63, 55], [50, 30, 90, 70]]
    boxes += [[195, 195, 205, 205], [195, 255, 205, 265], [255, 195, 265, 205]]
    layout = instance_layout(boxes, 300, 300, mode="original")
    assert layout.half_sizes.tolist() == [[3, 3], [3, 3], [5, 5], [5, 5], [5, 5], [5, 5]]
    assert layout.centers.tolist()[:3] == [[50, 50], [58, 50], [70, 50]]
    assert layout.rects.tolist()[2] == [65, 45, 75, 55]


def test_head_on_row_or_column_zero_or_outside_is_dropped_but_still_a_neighbour():
    boxes = [[-5, 20, 5, 30], [20, -5, 30, 5], [-30, 20, -20, 30], [94, 20, 104, 30], [40, 40, 50, 50]]
    layout = instance_layout(boxes, 100, 100, mode="original")
    assert layout.centers.tolist() == [[0, 25], [25, 0], [-25, 25], [99, 25], [45, 45]]
    assert layout.kept.tolist() == [False, False, False, True, True]
    assert layout.rects[~layout.kept].tolist() == [[0, 0, 0, 0]] * 3
    mask = boxes_to_instance_map(boxes, 100, 100, mode="original")
    assert components(mask) == [(100, 40, 50, 40, 50), (6 * 10, 94, 100, 20, 30)]  # clipped at the right edge
    # A dropped head still shrinks its neighbours: the head at x=6 overlaps the dropped one at x=0.
    near = instance_layout([[-5, 20, 5, 30], [1, 20, 11, 30]], 100, 100, mode="original")
    assert near.half_sizes[1].tolist() != [5, 5] and not near.kept[0]


def test_minimum_half_size_three_and_truncated_centre():
    layout = instance_layout([[10.0, 10.0, 11.0, 12.0], [40.6, 40.2, 49.9, 47.7]], 100, 100)
    assert layout.centers.tolist() == [[10, 11], [45, 43]]
    assert layout.half_sizes.tolist() == [[3, 3], [4, 3]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("empty", [[], np.zeros((0, 4)), np.zeros((0,))])
def test_empty_input(empty, mode):
    mask = boxes_to_instance_map(empty, 7, 9, mode=mode)
    assert mask.shape == (7, 9) and mask.dtype == bool and not mask.any()
    layout = instance_layout(empty, 7, 9, mode=mode)
    assert layout.centers.shape == (0, 2) and layout.rects.shape == (0, 4) and layout.kept.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"boxes": [[1, 2, 3]]}, "`boxes` must have shape"),
        ({"boxes": np.zeros((2, 2, 4))}, "`boxes` must have shape"),
        ({"boxes": [[1, 2, np.nan, 4]]}, "NaN"),
        ({"boxes": [[1, 2, np.inf, 4]]}, "must hold finite values.*NaN or inf"),
        ({"boxes": [[0, 0, 5, 5], [5, 0, 4, 5]]}, "negative size.*row 1"),
        ({"boxes": [[0, 5, 5, 4]]}, "negative size"),
        ({"boxes": [["a", 0, 1, 1]]}, "`boxes`"),
        ({"height": 0}, "`height` must be a positive integer"),
        ({"height": -3}, "`height`"),
        ({"width": 10.5}, "`width` must be a positive integer"),
        ({"width": True}, "`width`"),
        ({"max_half_size": 0}, "`max_half_size`"),
        ({"mode": "merge"}, "`mode` must be one of"),
    ],
)
@pytest.mark.parametrize("fn", [boxes_to_instance_map, instance_layout])
def test_errors_name_the_argument(fn, kwargs, match):
    args = {"boxes": [[0, 0, 5, 5]], "height": 10, "width": 10, "max_half_size": 25, "mode": "separate"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fn(args.pop("boxes"), args.pop("height"), args.pop("width"), args.pop("max_half_size"), **args)


def test_numpy_integer_sizes_are_accepted():
    mask = boxes_to_instance_map(np.array([[2, 2, 8, 8]], dtype=np.int32), np.int64(12), np.int32(12))
    assert mask.sum() == 36


# --- equality with the plain-loop transcription of the original --------------------------------------------------


@st.composite
def layouts(draw, max_heads: int = 40, max_side: int = 60):
    """Random heads in a small image: half-pixel centres (many exact distance ties), some outside the image."""
    h = draw(st.integers(4, 70))
    w = draw(st.integers(4, 70))
    n = draw(st.integers(0, max_heads))
    heads = draw(
        st.lists(
            st.tuples(
                st.integers(-8, 2 * w + 8),
                st.integers(-8, 2 * h + 8),
                st.integers(0, max_side),
                st.integers(0, max_side),
            ),
            min_size=n,
            max_size=n,
        )
    )
    boxes = np.array([[x / 2 - sw / 2, y / 2 - sh / 2, x / 2 + sw / 2, y / 2 + sh / 2] for x, y, sw, sh in heads])
    return boxes.reshape(-1, 4), h, w


@settings(max_examples=60, deadline=None)
@given(layout=layouts(), cap=st.sampled_from([25, 15]))
def test_matches_plain_loop_on_random_layouts(layout, cap):
    boxes, h, w = layout
    ours = instance_layout(boxes, h, w, cap, mode="original")
    centres, half = reference_half_sizes(boxes, cap)
    assert np.array_equal(ours.centers, centres)
    assert np.array_equal(ours.half_sizes, half)
    assert np.array_equal(
        boxes_to_instance_map(boxes, h, w, cap, mode="original"), reference_instance_map(boxes, h, w, cap)
    )


@pytest.mark.parametrize("seed", range(4))
def test_matches_plain_loop_on_larger_dense_layouts(seed):
    rng = np.random.default_rng(seed)
    n, h, w = 300, 120, 160
    xy = rng.integers(0, [w, h], size=(n, 2)).astype(float)
    if seed % 2:
        xy = np.round(xy / 6) * 6  # on a lattice: ties everywhere, and duplicates
    side = rng.uniform(2, 50, size=(n, 2))
    boxes = np.concatenate([xy - side / 2, xy + side / 2], axis=1)
    assert np.array_equal(boxes_to_instance_map(boxes, h, w, mode="original"), reference_instance_map(boxes, h, w))


@pytest.mark.parametrize("layout", ["lattice", "duplicates", "random"])
def test_neighbour_order_breaks_ties_by_index(layout):
    rng = np.random.default_rng(1)
    if layout == "lattice":
        c = np.stack(np.meshgrid(np.arange(0, 40, 4), np.arange(0, 40, 4)), axis=-1).reshape(-1, 2)
        c = c[rng.permutation(len(c))]
    elif layout == "duplicates":
        c = np.concatenate([np.full((15, 2), 7), rng.integers(0, 5, size=(20, 2)), np.full((3, 2), 30)])
    else:
        c = rng.integers(0, 100, size=(200, 2))
    c = c.astype(np.int64)
    order = _neighbour_order(c[:, 0], c[:, 1])
    for i in range(len(c)):
        d2 = ((c - c[i]) ** 2).sum(axis=1)
        assert order[i].tolist() == np.argsort(d2, kind="stable")[:ORDER_WIDTH].tolist()


def test_neighbour_order_pads_small_inputs():
    order = _neighbour_order(np.array([5, 1, 9]), np.array([0, 0, 0]))
    assert order.tolist() == [[0, 1, 2, -1, -1, -1], [1, 0, 2, -1, -1, -1], [2, 0, 1, -1, -1, -1]]


def test_fewer_than_six_overlapping_heads_do_not_fail():
    # The original indexes the neighbour after the 4th even when it does not exist; here that rule is skipped.
    for n in range(1, 7):
        boxes = [[10 + 3 * i, 10, 30 + 3 * i, 30] for i in range(n)]
        mask = boxes_to_instance_map(boxes, 60, 60, mode="original")
        assert np.array_equal(mask, reference_instance_map(boxes, 60, 60))


@pytest.mark.parametrize("layout", ["clustered", "line", "far"])
def test_neighbour_order_on_uneven_layouts(layout):
    # The grid search adapts its cells to the dense parts; sparse heads and a one-column crowd must still be exact.
    rng = np.random.default_rng(2)
    if layout == "clustered":
        c = np.concatenate([rng.integers(0, 30, size=(300, 2)), rng.integers(0, 3000, size=(30, 2))])
    elif layout == "line":
        c = np.stack([np.full(200, 50), rng.integers(0, 400, size=200)], axis=1)
    else:
        c = np.array([[0, 0], [10_000, 0], [0, 7_000], [5, 5], [-3_000, 20], [10_000, 1]])
    c = c.astype(np.int64)
    order = _neighbour_order(c[:, 0], c[:, 1])
    for i in range(len(c)):
        d2 = ((c - c[i]) ** 2).sum(axis=1)
        assert order[i].tolist() == np.argsort(d2, kind="stable")[:ORDER_WIDTH].tolist()


@settings(max_examples=60, deadline=None)
@given(layout=layouts(max_heads=60, max_side=40))
def test_touching_pairs_match_all_pairs(layout):
    boxes, h, w = layout
    rects = instance_layout(boxes, h, w, mode="original").rects
    kept = rects[:, 2] > rects[:, 0]
    expected = [
        [i, j]
        for i in range(len(rects))
        for j in range(i + 1, len(rects))
        if kept[i]
        and kept[j]
        and max(rects[i, 0], rects[j, 0]) <= min(rects[i, 2], rects[j, 2])
        and max(rects[i, 1], rects[j, 1]) <= min(rects[i, 3], rects[j, 3])
    ]
    assert touching_pairs(rects, kept).tolist() == expected


# --- independence -------------------------------------------------------------------------------------------------


@st.composite
def sparse_layouts(draw):
    """Heads in distinct cells of a 60 px grid, centres jittered by <= 4 px: rectangles (half <= 25) never touch."""
    cols, rows = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    cells = draw(st.lists(st.integers(0, cols * rows - 1), unique=True, max_size=cols * rows))
    boxes = []
    for cell in cells:
        cx = 60 * (cell % cols) + 30 + draw(st.integers(-4, 4))
        cy = 60 * (cell // cols) + 30 + draw(st.integers(-4, 4))
        sw, sh = draw(st.floats(0, 90)), draw(st.floats(0, 90))
        boxes.append([cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2])
    return np.array(boxes).reshape(-1, 4), 60 * rows, 60 * cols


@settings(max_examples=40, deadline=None)
@given(layout=sparse_layouts())
def test_sparse_layout_every_head_has_its_own_component(layout):
    boxes, h, w = layout
    original = boxes_to_instance_map(boxes, h, w, mode="original")
    n, labels = cv2.connectedComponents(original.astype(np.uint8), connectivity=4)
    centres = instance_layout(boxes, h, w).centers
    ids = labels[centres[:, 1], centres[:, 0]]
    assert n - 1 == len(boxes)
    assert (ids > 0).all() and len(set(ids.tolist())) == len(boxes)
    # Without clashes the separate mode changes nothing.
    assert np.array_equal(boxes_to_instance_map(boxes, h, w, mode="separate"), original)


@settings(max_examples=60, deadline=None)
@given(layout=layouts(max_heads=60, max_side=40))
def test_separate_mode_keeps_every_head_of_a_dense_layout_apart(layout):
    boxes, h, w = layout
    orig = instance_layout(boxes, h, w, mode="original")
    sep = instance_layout(boxes, h, w, mode="separate")
    mask = boxes_to_instance_map(boxes, h, w, mode="separate")
    labels = np.zeros((h, w), dtype=np.int32)  # each kept rectangle painted with its head's id + 1
    for k in np.flatnonzero(sep.kept):
        x0, y0, x1, y1 = sep.rects[k]
        assert not labels[y0:y1, x0:x1].any()  # the kept rectangles are disjoint
        labels[y0:y1, x0:x1] = k + 1
    assert np.array_equal(labels > 0, mask)
    kept = np.flatnonzero(sep.kept)
    cx, cy = sep.centers[kept, 0], sep.centers[kept, 1]
    # Each kept head owns exactly its rectangle, which contains its centre and lies inside its original one.
    assert (labels[cy, cx] == kept + 1).all()
    for k in kept:
        x0, y0, x1, y1 = sep.rects[k]
        ox0, oy0, ox1, oy1 = orig.rects[k]
        assert (labels[y0:y1, x0:x1] == k + 1).all() and (labels == k + 1).sum() == (x1 - x0) * (y1 - y0)
        assert ox0 <= x0 < x1 <= ox1 and oy0 <= y0 < y1 <= oy1
    # One component per kept head, even under 8-connectivity.
    for connectivity in (4, 8):
        n, cc = cv2.connectedComponents(mask.astype(np.uint8), connectivity=connectivity)
        assert n - 1 == len(kept)
        assert len(set(cc[cy, cx].tolist())) == len(kept)
    # A head is dropped only by the original's rule or next to (or on) a kept head's centre pixel.
    for d in np.flatnonzero(orig.kept & ~sep.kept):
        cheb = np.abs(sep.centers[kept] - sep.centers[d]).max(axis=1)
        assert (cheb <= 1).any()


def test_separate_mode_cuts_a_merged_pair_and_drops_a_duplicate():
    # Heads 4 px apart shrink to the minimum half-size 2 and still touch in the original map; a third head sits on
    # the first one's centre. All three shrink to half-size 2, so the duplicate (the later of equal areas) goes.
    boxes = [[20, 20, 30, 30], [24, 20, 34, 30], [22, 22, 28, 28]]
    assert components(boxes_to_instance_map(boxes, 50, 50, mode="original")) == [(32, 23, 31, 23, 27)]
    layout = instance_layout(boxes, 50, 50, mode="separate")
    assert layout.kept.tolist() == [True, True, False]
    # The cut is the column between the two centres (x = 27): head 0 keeps [23, 27), head 1 [28, 31).
    assert layout.rects.tolist() == [[23, 23, 27, 27], [28, 23, 31, 27], [0, 0, 0, 0]]
    assert components(boxes_to_instance_map(boxes, 50, 50, mode="separate")) == [
        (16, 23, 27, 23, 27),
        (12, 28, 31, 23, 27),
    ]


# --- real data ----------------------------------------------------------------------------------------------------


@pytest.mark.data
def test_real_image_matches_plain_loop_and_separate_mode_is_independent(shanghaitech):
    from iim.targets import points_to_boxes

    points, h, w = shanghaitech("A", 2)
    boxes = points_to_boxes(points, h, w)
    assert np.array_equal(boxes_to_instance_map(boxes, h, w, mode="original"), reference_instance_map(boxes, h, w))
    sep = instance_layout(boxes, h, w, mode="separate")
    n, cc = cv2.connectedComponents(boxes_to_instance_map(boxes, h, w).astype(np.uint8), connectivity=4)
    ids = cc[sep.centers[sep.kept, 1], sep.centers[sep.kept, 0]]
    assert n - 1 == sep.kept.sum() == len(set(ids.tolist())) and (ids > 0).all()
    assert sep.kept.mean() > 0.99
