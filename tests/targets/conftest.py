"""Fixtures of the targets tests: the real ShanghaiTech data, read in place (never copied), skipped when absent."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.io
from PIL import Image

from helpers.shared import shared_path


@pytest.fixture
def shanghaitech() -> Callable[[str, int], tuple[np.ndarray, int, int]]:
    """``load(part, n)`` -> 0-based points, height and width of ShanghaiTech training image ``IMG_n``."""

    def load(part: str, n: int) -> tuple[np.ndarray, int, int]:
        root = shared_path("data", "shanghaitech", f"part_{part}", "train_data")
        mat = root / "ground-truth" / f"GT_IMG_{n}.mat"
        img = root / "images" / f"IMG_{n}.jpg"
        if not (mat.is_file() and img.is_file()):
            pytest.skip(f"ShanghaiTech part_{part} IMG_{n} not found under {root} (set IIM_SHARED_DIR)")
        points = scipy.io.loadmat(mat)["image_info"][0, 0][0, 0][0].astype(np.float64) - 1.0
        with Image.open(img) as im:
            width, height = im.size
        return points, height, width

    return load
