"""iim.io: image size from the header, EXIF orientation, RGB decoding, truncated and undecodable files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from helpers.serve import png_claiming
from iim.io import ImageReadError, check_complete, image_size, load_image, read_header


def _half_white() -> np.ndarray:
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    rgb[:, :10] = 255  # left third white
    return rgb


def test_exif_orientation_is_applied_to_size_and_pixels(tmp_path):
    exif = Image.Exif()
    exif[274] = 6  # rotate 90 degrees clockwise when displayed
    Image.fromarray(_half_white()).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    assert image_size(tmp_path / "rot.jpg") == (30, 20)
    shown = load_image(tmp_path / "rot.jpg")
    assert shown.shape == (30, 20, 3) and shown.dtype == np.uint8
    assert shown[:10].mean() > 200 and shown[-10:].mean() < 50  # the white part is now on top


def test_gray_and_rgba_become_rgb_with_the_same_pixels(tmp_path):
    rgb = _half_white()
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 128, np.uint8)])).save(tmp_path / "rgba.png")
    assert np.array_equal(load_image(tmp_path / "rgba.png"), rgb)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "gray.png")
    gray = load_image(tmp_path / "gray.png")
    assert gray.shape == (20, 30, 3) and np.array_equal(gray[:, :, 1], rgb[:, :, 0])


def test_colour_order_is_rgb(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    Image.fromarray(rgb).save(tmp_path / "red.png")
    out = load_image(tmp_path / "red.png")
    assert out[..., 0].min() == 200 and out[..., 1:].max() == 0


def test_missing_truncated_and_junk_files_name_the_file(tmp_path):
    Image.fromarray(_half_white()).save(tmp_path / "ok.jpg", quality=95)
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: truncated JPEG"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(ImageReadError, match=r"cut\.jpg: truncated JPEG"):
        check_complete(tmp_path / "cut.jpg")
    check_complete(tmp_path / "ok.jpg")  # complete: no error
    Image.fromarray(_half_white()).save(tmp_path / "ok.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:-20])
    with pytest.raises(ImageReadError, match=r"cut\.png: truncated PNG"):
        load_image(tmp_path / "cut.png")
    (tmp_path / "junk.jpg").write_bytes(b"hello")
    with pytest.raises(ImageReadError, match=r"junk\.jpg: cannot decode image"):
        load_image(tmp_path / "junk.jpg")
    with pytest.raises(ImageReadError, match=r"nope\.jpg: image file is missing"):
        load_image(tmp_path / "nope.jpg")
    assert issubclass(ImageReadError, ValueError)


def test_header_of_a_large_image_is_read_without_warning_and_a_bomb_is_refused():
    big = png_claiming(12_000, 10_000)  # 120 MP: over PIL's warning limit (89 MP), under its error limit (179 MP)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        header = read_header(big, "upload.png")
    assert (header.height, header.width, header.format) == (10_000, 12_000, "PNG")
    with pytest.raises(ImageReadError, match=r"upload\.png: too large: 3,000,000,000 pixels") as err:
        read_header(png_claiming(60_000, 50_000), "upload.png")
    assert err.value.reason == "too_large"
