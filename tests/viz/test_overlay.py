"""iim.viz overlays: colours at the drawn pixels, labels, shapes / dtypes, conversions, errors, empty inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from iim.metrics import match_points
from iim.viz import FN_COLOR, FP_COLOR, PRED_COLOR, TP_COLOR, draw_matches, draw_points, maps_panel


def px(img: np.ndarray, x: float, y: float) -> tuple[int, int, int]:
    """The RGB colour at pixel (x, y)."""
    return tuple(int(v) for v in img[round(y), round(x)])


def jet(value: float) -> tuple[int, int, int]:
    """The RGB colour cv2.COLORMAP_JET gives ``value`` on the [0, 1] scale."""
    gray = np.array([[round(value * 255)]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[0, 0])


def count_color(img: np.ndarray, color: tuple[int, int, int]) -> int:
    return int(np.all(img == np.array(color, np.uint8), axis=-1).sum())


def gray_image(h: int = 120, w: int = 160, value: int = 128) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


# ---------------------------------------------------------------------------------------------------------------------
# draw_points
# ---------------------------------------------------------------------------------------------------------------------


def test_draw_points_dot_colour_outline_and_copy():
    image = np.full((120, 160, 3), 255, np.uint8)
    out = draw_points(image, [[100.0, 80.0]], radius=8)
    assert out.dtype == np.uint8
    assert out.shape == (120, 160, 3)
    assert px(out, 100, 80) == PRED_COLOR
    assert px(out, 104, 80) == PRED_COLOR  # inside the dot
    # the dark outline just outside the dot shows on a white background
    assert max(px(out, 100 + 9, 80)) < 60
    assert max(px(out, 100, 80 - 9)) < 60
    assert (image == 255).all(), "the input must not be modified"
    assert out is not image


def test_draw_points_custom_colour_and_subpixel_position():
    out = draw_points(gray_image(), [[60.4, 70.6]], color=(0, 0, 255), radius=3, label="")
    assert px(out, 60, 71) == (0, 0, 255)


def test_draw_points_count_label_present_top_left():
    image = gray_image(200, 300)
    out = draw_points(image, np.zeros((0, 2)))
    label_area = out[:30, :90]
    assert (label_area != 128).any(axis=-1).sum() > 50  # box and text
    assert (label_area.min(axis=-1) > 200).sum() > 10  # white text pixels
    assert (out[100:, 150:] == 128).all(), "no label outside the top-left corner"


def test_draw_points_label_text_depends_on_count():
    image = gray_image(200, 300)
    a = draw_points(image, [[250, 150]])
    b = draw_points(image, [[250, 150]], count=123)
    c = draw_points(image, [[250, 150]], count=12.5)
    assert not np.array_equal(a[:30, :120], b[:30, :120])
    assert not np.array_equal(b[:30, :120], c[:30, :120])
    assert np.array_equal(a[100:, 200:], b[100:, 200:])  # the dot is the same


def test_draw_points_empty_label_draws_nothing_for_no_points():
    image = gray_image()
    for empty in ([], np.zeros((0,)), np.zeros((0, 2)), torch.zeros(0, 2)):
        out = draw_points(image, empty, label="")
        assert np.array_equal(out, image)


def test_draw_points_boxes():
    out = draw_points(gray_image(), [[80, 60]], boxes=[[60, 40, 101, 81]], radius=2, color=(0, 0, 255), label="")
    assert px(out, 60, 60) == (0, 0, 255)  # left edge
    assert px(out, 100, 60) == (0, 0, 255)  # right edge: x2 is exclusive
    assert px(out, 70, 60) == (128, 128, 128)  # inside the box, away from the dot


def test_draw_points_default_radius_scales_with_image():
    small = draw_points(np.zeros((100, 100, 3), np.uint8), [[50, 50]], label="")
    large = draw_points(np.zeros((2000, 2000, 3), np.uint8), [[1000, 1000]], label="")
    assert count_color(large, PRED_COLOR) > 4 * count_color(small, PRED_COLOR) > 0


def test_draw_points_points_outside_the_image_are_skipped():
    out = draw_points(gray_image(), [[-50, 10], [1e9, -1e9], [500, 500]], label="")
    assert (out == 128).all()


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.full((40, 50), 77, np.uint8), (77, 77, 77)),
        (np.full((40, 50, 1), 77, np.uint8), (77, 77, 77)),
        (np.full((40, 50, 3), 0.5, np.float32), (128, 128, 128)),
        (np.full((40, 50, 4), 200, np.uint8), (200, 200, 200)),
        (np.ones((40, 50), bool), (255, 255, 255)),
        (np.full((40, 50, 3), 9, np.int64), (9, 9, 9)),
        (torch.full((40, 50, 3), 0.25, dtype=torch.float64), (64, 64, 64)),
        (torch.full((40, 50, 3), 10, dtype=torch.uint8), (10, 10, 10)),
    ],
)
def test_draw_points_image_kinds(image, expected):
    out = draw_points(image, [], label="")
    assert out.shape == (40, 50, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert px(out, 25, 20) == expected


def test_draw_points_accepts_torch_points():
    out = draw_points(gray_image(), torch.tensor([[30.0, 90.0]]), radius=3, label="")
    assert px(out, 30, 90) == PRED_COLOR


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image": np.zeros((3, 40, 50), np.uint8)}, "`image`.*channel-first"),
        ({"image": np.zeros((40, 50, 2), np.uint8)}, r"`image` must have shape"),
        ({"image": np.zeros((0, 50), np.uint8)}, "`image` must not be empty"),
        ({"image": np.full((40, 50, 3), 255.0)}, r"`image`.*\[0, 1\]"),
        ({"image": np.full((40, 50), np.nan)}, "`image` must hold finite"),
        ({"image": np.full((40, 50), 300, np.int32)}, r"`image`.*\[0, 255\]"),
        ({"image": np.full((40, 50), "a")}, "`image` must be uint8"),
        ({"points": [1.0, 2.0, 3.0]}, r"`points` must have shape \(N, 2\)"),
        ({"points": np.zeros((4, 3))}, r"`points` must have shape \(N, 2\)"),
        ({"points": [[1.0, np.nan]]}, "`points` must hold finite"),
        ({"points": np.array([["a", "b"]])}, "`points` must hold real numbers"),
        ({"color": (255, 0)}, "`color`"),
        ({"color": (256, 0, 0)}, "`color`"),
        ({"radius": 0}, "`radius`"),
        ({"radius": 2.5}, "`radius`"),
        ({"boxes": [[1, 2, 3]]}, r"`boxes` must have shape \(N, 4\)"),
    ],
)
def test_draw_points_errors_name_the_argument(kwargs, match):
    args = {"image": gray_image(40, 50), "points": [[5.0, 5.0]]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        draw_points(**args)


# ---------------------------------------------------------------------------------------------------------------------
# draw_matches
# ---------------------------------------------------------------------------------------------------------------------

# A 300 x 300 scene away from the legend: one hit, one miss, one false positive.
GT = [[60.0, 220.0], [160.0, 220.0]]
SIGMA = [12.0, 12.0]
PRED = [[63.0, 222.0], [250.0, 160.0]]


def test_draw_matches_colours_tp_fn_fp():
    image = np.zeros((300, 300, 3), np.uint8)
    out = draw_matches(image, PRED, GT, SIGMA, radius=3)
    assert out.shape == (300, 300, 3)
    assert out.dtype == np.uint8
    assert px(out, 63, 222) == TP_COLOR  # matched prediction
    assert px(out, 160, 220) == FN_COLOR  # missed head: red centre dot
    assert px(out, 250, 160) == FP_COLOR  # unmatched prediction
    # sigma circles: green around the hit, red around the miss
    r, g, b = px(out, 60 + 12, 220)
    assert g > 150 and r < 80 and b < 80
    r, g, b = px(out, 160 - 12, 220)
    assert r > 150 and g < 80 and b < 80
    assert (image == 0).all()


def test_draw_matches_legend_present_and_optional():
    image = gray_image(300, 300)
    with_legend = draw_matches(image, PRED, GT, SIGMA)
    without = draw_matches(image, PRED, GT, SIGMA, legend=False)
    assert (without[:60, :100] == 128).all()
    legend = with_legend[:60, :100]
    assert (legend != 128).any(axis=-1).sum() > 100
    assert count_color(legend, TP_COLOR) > 10  # the colour swatches
    assert count_color(legend, FP_COLOR) > 10
    assert count_color(legend, FN_COLOR) > 10


def test_draw_matches_uses_match_points():
    rng = np.random.default_rng(1)
    gt = rng.uniform(120, 380, (15, 2))
    pred = np.concatenate([gt[:10] + rng.uniform(-2, 2, (10, 2)), rng.uniform(120, 380, (4, 2))])
    sigma = np.full(15, 4.0)
    out = draw_matches(np.zeros((400, 400, 3), np.uint8), pred, gt, sigma, radius=2, legend=False)
    m = match_points(pred, gt, sigma)
    for i, matched in enumerate(m.pred_matched):
        assert px(out, *pred[i]) == (TP_COLOR if matched else FP_COLOR)
    for j in np.flatnonzero(~m.gt_matched):
        assert px(out, *gt[j]) in (FN_COLOR, FP_COLOR)  # an FP dot may lie on a missed head's centre


def test_draw_matches_precomputed_match_and_scalar_sigma():
    image = np.zeros((300, 300, 3), np.uint8)
    m = match_points(PRED, GT, 12.0)
    a = draw_matches(image, PRED, GT, 12.0, match=m)
    b = draw_matches(image, PRED, GT, SIGMA)
    assert np.array_equal(a, b)
    other = match_points(PRED[:1], GT, SIGMA)
    with pytest.raises(ValueError, match="`match` is for 2 heads and 1 predictions"):
        draw_matches(image, PRED, GT, SIGMA, match=other)


def test_draw_matches_empty_sets():
    image = np.zeros((300, 300, 3), np.uint8)
    only_gt = draw_matches(image, [], GT, SIGMA, radius=3)
    assert px(only_gt, 60, 220) == FN_COLOR
    assert px(only_gt, 160, 220) == FN_COLOR
    only_pred = draw_matches(image, PRED, np.zeros((0, 2)), [], radius=3)
    assert px(only_pred, 63, 222) == FP_COLOR
    assert px(only_pred, 250, 160) == FP_COLOR
    nothing = draw_matches(image, [], [], [], legend=False)
    assert (nothing == 0).all()


def test_draw_matches_torch_and_grayscale_float():
    image = torch.zeros(300, 300)
    out = draw_matches(image, torch.tensor(PRED), torch.tensor(GT), torch.tensor(SIGMA), radius=3)
    assert out.shape == (300, 300, 3)
    assert px(out, 63, 222) == TP_COLOR


def test_draw_matches_zero_sigma_draws_no_circle():
    out = draw_matches(np.zeros((300, 300, 3), np.uint8), [], GT, [0.0, 0.0], radius=2, legend=False)
    assert count_color(out, FN_COLOR) < 60  # two dots only


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pred_points": [[1.0, 2.0, 3.0]]}, "`pred_points`"),
        ({"gt_points": np.zeros((2, 3))}, "`gt_points`"),
        ({"gt_sigma": [1.0]}, r"`gt_sigma` must have shape \(G,\) = \(2,\)"),
        ({"gt_sigma": [1.0, -1.0]}, "`gt_sigma` must be finite and >= 0"),
        ({"gt_sigma": [1.0, np.inf]}, "`gt_sigma` must be finite and >= 0"),
        ({"image": np.zeros((5,), np.uint8)}, "draw_matches: `image`"),
        ({"radius": -1}, "`radius`"),
    ],
)
def test_draw_matches_errors_name_the_argument(kwargs, match):
    args = {"image": np.zeros((300, 300, 3), np.uint8), "pred_points": PRED, "gt_points": GT, "gt_sigma": SIGMA}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        draw_matches(**args)


# ---------------------------------------------------------------------------------------------------------------------
# maps_panel
# ---------------------------------------------------------------------------------------------------------------------


def test_maps_panel_fixed_scale_for_both_maps():
    h, w = 48, 64
    conf = np.full((h, w), 0.25)
    thr = np.full((h, w), 0.6)
    panel = maps_panel(conf, thr)
    assert panel.dtype == np.uint8
    assert panel.ndim == 3
    assert panel.shape[2] == 3
    # A constant map is coloured by its value on [0, 1], not stretched to its own range.
    assert count_color(panel, jet(0.25)) >= h * w
    assert count_color(panel, jet(0.6)) >= h * w
    assert panel.shape[1] > 2 * w
    assert panel.shape[1] < 3 * w


def test_maps_panel_value_range_and_colormap():
    conf = np.full((32, 32), 0.5)
    a = maps_panel(conf, conf, value_range=(0.0, 2.0))
    assert count_color(a, jet(0.25)) >= 2 * 32 * 32
    b = maps_panel(conf, conf, colormap=cv2.COLORMAP_VIRIDIS)
    assert not np.array_equal(a, b)


def test_maps_panel_values_outside_the_scale_are_clipped_in_colour():
    panel = maps_panel(np.full((32, 32), 1.7), np.full((32, 32), -0.3))
    assert count_color(panel, jet(1.0)) >= 32 * 32
    assert count_color(panel, jet(0.0)) >= 32 * 32


def test_maps_panel_with_binary_and_image_adds_tiles():
    h, w = 40, 60
    conf = np.random.default_rng(0).random((h, w))
    thr = np.full((h, w), 0.45)
    two = maps_panel(conf, thr)
    four = maps_panel(conf, thr, binary=conf > thr, image=np.full((h, w, 3), (10, 200, 30), np.uint8))
    assert four.shape[0] == two.shape[0]
    assert four.shape[1] > 4 * w
    assert count_color(four, (10, 200, 30)) >= h * w  # the image tile
    assert count_color(four, (255, 255, 255)) >= int((conf > thr).sum())  # the binary foreground
    grid = maps_panel(conf, thr, binary=conf > thr, image=np.zeros((h, w), np.uint8), ncols=2)
    assert grid.shape[0] > 2 * h
    assert grid.shape[1] < 3 * w


@pytest.mark.parametrize(
    "binary",
    [
        np.eye(32, dtype=bool),
        np.eye(32, dtype=np.uint8),
        np.eye(32, dtype=np.uint8) * 255,
        np.eye(32, dtype=np.float32),
        torch.eye(32)[None, None],
    ],
)
def test_maps_panel_binary_kinds(binary):
    panel = maps_panel(np.zeros((32, 32)), np.zeros((32, 32)), binary=binary)
    assert count_color(panel, (255, 255, 255)) >= 32


def test_maps_panel_accepts_leading_singleton_dims_and_tensors():
    conf = np.random.default_rng(0).random((24, 36)).astype(np.float32)
    thr = np.full((24, 36), 0.3, np.float32)
    ref = maps_panel(conf, thr)
    assert np.array_equal(maps_panel(conf[None], thr[None, None]), ref)
    assert np.array_equal(maps_panel(torch.from_numpy(conf)[None, None], torch.from_numpy(thr)), ref)
    half = maps_panel(torch.from_numpy(conf).to(torch.bfloat16), torch.from_numpy(thr).to(torch.bfloat16))
    assert half.shape == ref.shape


def test_maps_panel_resizes_an_image_of_another_size():
    panel = maps_panel(np.zeros((30, 40)), np.zeros((30, 40)), image=np.full((60, 80, 3), 0.5))
    assert count_color(panel, (128, 128, 128)) >= 30 * 40


def test_maps_panel_non_finite_values_are_gray():
    conf = np.full((30, 40), 0.5)
    conf[:10] = np.nan
    panel = maps_panel(conf, np.full((30, 40), 0.5))
    assert count_color(panel, (128, 128, 128)) >= 10 * 40
    all_nan = maps_panel(np.full((30, 40), np.nan), np.full((30, 40), np.inf))
    assert count_color(all_nan, (128, 128, 128)) >= 2 * 30 * 40


def test_maps_panel_title_and_colour_bar_text():
    h, w = 64, 256
    panel = maps_panel(np.zeros((h, w)), np.zeros((h, w)))
    body_rows = np.flatnonzero((np.all(panel == jet(0.0), axis=-1)).sum(axis=1) >= w)
    top, bottom = body_rows.min(), body_rows.max()
    title, footer = panel[:top], panel[bottom + 1 :]
    assert (title.min(axis=-1) > 200).sum() > 50  # white title text
    assert (footer.min(axis=-1) > 200).sum() > 20  # tick labels / range marks
    ramp_colours = {tuple(c) for c in footer.reshape(-1, 3).tolist()}
    assert jet(1.0) in ramp_colours  # the colour bar spans the scale
    assert jet(0.5) in ramp_colours


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidence": np.zeros((2, 8, 8))}, r"`confidence` must have shape \(H, W\), \(1, H, W\)"),
        ({"confidence": np.zeros((8,))}, "`confidence` must have shape"),
        ({"confidence": np.zeros((0, 8))}, "`confidence` must not be empty"),
        ({"threshold": np.zeros((8, 9))}, "`threshold` must have the shape of `confidence`"),
        ({"threshold": np.full((8, 8), "x")}, "`threshold` must hold real numbers"),
        ({"binary": np.zeros((7, 8))}, "`binary` must have the shape of `confidence`"),
        ({"image": np.zeros((3, 8, 8), np.uint8)}, "`image`.*channel-first"),
        ({"value_range": (1.0, 0.0)}, "`value_range`"),
        ({"value_range": (0.0,)}, "`value_range`"),
        ({"ncols": 0}, "`ncols`"),
    ],
)
def test_maps_panel_errors_name_the_argument(kwargs, match):
    args = {"confidence": np.zeros((8, 8)), "threshold": np.zeros((8, 8))}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        maps_panel(**args)
