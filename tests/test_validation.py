"""iim.validation: every check converts what it accepts and names the argument in what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iim import validation as v


def test_rows_points_and_boxes_accept_arrays_lists_tensors_and_empties():
    pts = v.as_points("f: `p`", [[1, 2], [3.5, 4]])
    assert pts.dtype == np.float64 and pts.shape == (2, 2) and pts.flags.c_contiguous
    assert np.array_equal(v.as_points("f: `p`", torch.tensor([[1.0, 2.0]])), [[1.0, 2.0]])
    for empty in ([], np.zeros((0,)), np.zeros((0, 2)), torch.zeros(0, 2)):
        assert v.as_points("f: `p`", empty).shape == (0, 2)
    assert v.as_boxes("f: `b`", []).shape == (0, 4)
    assert np.array_equal(v.as_boxes("f: `b`", [[0, 0, 2, 3]]), [[0, 0, 2, 3]])
    assert np.array_equal(v.as_rows("f: `r`", np.ones((3, 5), np.int32), 5, "values"), np.ones((3, 5)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: v.as_points("fn: `pts`", [[1, 2, 3]]), r"fn: `pts` must have shape \(N, 2\)"),
        (lambda: v.as_points("fn: `pts`", [[1, np.nan]]), r"fn: `pts` must hold finite values.*row 0"),
        (lambda: v.as_points("fn: `pts`", np.array([["a", "b"]])), r"fn: `pts` must hold real numbers"),
        (lambda: v.as_points("fn: `pts`", object()), r"fn: `pts` must"),
        (lambda: v.as_boxes("fn: `bx`", [[0, 0, 1, 1], [5, 0, 4, 1]]), r"fn: `bx` has a negative size.*row 1"),
        (lambda: v.as_radii("fn: `s`", [1, 2], 3), r"fn: `s` must have shape \(G,\) = \(3,\)"),
        (lambda: v.as_radii("fn: `s`", [1, -2], 2), r"fn: `s` must be finite and >= 0.*index 1"),
        (lambda: v.as_levels("fn: `lv`", [0, 7], 2, 6), r"fn: `lv` must be integers in \[0, 6\).*index 1"),
        (lambda: v.as_levels("fn: `lv`", [0.5], 1, 6), r"fn: `lv` must be integers"),
        (lambda: v.as_map("fn: `m`", np.zeros((2, 3, 4))), r"fn: `m` must have shape \(H, W\)"),
        (lambda: v.as_map("fn: `m`", np.zeros((0, 3))), r"fn: `m` must not be empty"),
        (lambda: v.as_rgb_image("fn: `im`", np.zeros((3, 8, 9))), r"fn: `im` must be channel-last"),
        (lambda: v.as_rgb_image("fn: `im`", np.full((2, 2), 1.5)), r"fn: `im`: float images must hold values"),
        (lambda: v.as_rgb_image("fn: `im`", np.full((2, 2), 300)), r"fn: `im`: integer images must hold"),
        (lambda: v.positive_int("fn: `k`", 0), r"fn: `k` must be a positive integer, got 0"),
        (lambda: v.non_negative_int("min_area", -1), r"min_area: expected an integer >= 0, got -1"),
        (lambda: v.non_negative_int("min_area", True), r"min_area: expected an integer >= 0, got True"),
        (lambda: v.positive_int("fn: `k`", True), r"fn: `k` must be a positive integer"),
        (lambda: v.positive_int("fn: `k`", 2.0), r"fn: `k` must be a positive integer"),
        (lambda: v.positive_float("fn: `x`", float("inf")), r"fn: `x` must be a positive finite number"),
        (lambda: v.positive_float("fn: `x`", -1), r"fn: `x` must be > 0, got -1"),
        (lambda: v.as_threshold_offset("fn: `o`", 1.5), r"fn: `o` must be a number in \[-1, 1\], got 1\.5"),
        (lambda: v.as_threshold_offset("fn: `o`", "nan"), r"fn: `o` must be a number in \[-1, 1\], got 'nan'"),
        (lambda: v.as_threshold_offset("fn: `o`", True), r"fn: `o` must be a number"),
        (lambda: v.as_threshold_offset("fn: `o`", "up"), r"fn: `o` must be a number"),
        (lambda: v.as_bool("split_heads", "true"), r"split_heads: expected true or false, got 'true'"),
        (lambda: v.as_bool("split_heads", 1), r"split_heads: expected true or false, got 1"),
    ],
)
def test_refusals_name_the_argument_and_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_booleans_pass_as_python_bools():
    assert v.as_bool("b", True) is True and v.as_bool("b", np.bool_(False)) is False


def test_threshold_offsets_read_numbers_and_numeric_text():
    assert v.as_threshold_offset("o", "0.05") == 0.05 and v.as_threshold_offset("o", -1) == -1.0
    assert isinstance(v.as_threshold_offset("o", np.float32(0.5)), float)


def test_radii_and_levels_broadcast_and_convert():
    assert np.array_equal(v.as_radii("r", 4, 3), [4.0, 4.0, 4.0])
    assert v.as_radii("r", [], 0).shape == (0,)
    lv = v.as_levels("l", np.array([0.0, 5.0]), 2, 6)
    assert lv.dtype == np.int64 and lv.tolist() == [0, 5]


def test_maps_squeeze_and_images_become_rgb_uint8():
    assert v.as_map("m", torch.ones(1, 1, 4, 5)).shape == (4, 5)
    gray = v.as_rgb_image("im", np.array([[0.0, 1.0]]))
    assert gray.shape == (1, 2, 3) and gray.dtype == np.uint8 and gray[0, 1].tolist() == [255, 255, 255]
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 9
    rgb = v.as_rgb_image("im", rgba)
    assert rgb.shape == (2, 2, 3) and rgb.max() == 0
    src = np.zeros((2, 2, 3), np.uint8)
    assert v.as_rgb_image("im", src) is not src  # a new array: callers may draw on it
    assert v.as_rgb_image("im", np.ones((2, 2), bool)).min() == 255


def test_tensors_of_half_precision_become_float32():
    out = v.to_numpy(torch.ones(2, dtype=torch.bfloat16))
    assert out.dtype == np.float32
    assert v.to_numpy(torch.ones(2, dtype=torch.float64)).dtype == np.float64  # no precision lost
    assert v.to_numpy([1, 2]) == [1, 2]
