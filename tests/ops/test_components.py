"""extract_instances: the original's post-processing (4-connectivity, min area 3, pixel-mean centroids)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iim.ops import extract_instances, extract_instances_batch


def _method_md_case() -> np.ndarray:
    b = np.zeros((6, 6), dtype=np.uint8)
    for r, c in [(0, 0), (0, 1), (1, 2), (2, 2), (2, 3)]:
        b[r, c] = 1
    return b


def test_post_processing_case_from_method_md():
    b = _method_md_case()
    four = extract_instances(b, min_area=0, connectivity=4)
    assert four.count == 2 and sorted(four.areas.tolist()) == [2, 3]
    assert extract_instances(b, min_area=0, connectivity=8).count == 1
    kept = extract_instances(b)  # min_area=3, 4-connectivity
    assert kept.count == 1
    assert kept.points[0] == pytest.approx([7 / 3, 5 / 3])  # x = 2.333, y = 1.667
    assert kept.boxes[0].tolist() == [2.0, 1.0, 4.0, 3.0]
    assert kept.areas.tolist() == [3]


@pytest.mark.parametrize("convert", [np.bool_, np.float32, np.int64, "torch", "torch_bool"])
def test_input_kinds(convert):
    b = _method_md_case()
    if convert == "torch":
        x = torch.from_numpy(b).float()[None]
    elif convert == "torch_bool":
        x = torch.from_numpy(b).bool()
    else:
        x = b.astype(convert)
    assert extract_instances(x, min_area=0).count == 2


def test_rectangles_boxes_and_order():
    b = np.zeros((20, 30), dtype=bool)
    b[2:5, 3:9] = True
    b[10:18, 20:25] = True
    inst = extract_instances(b)
    assert inst.boxes.tolist() == [[3, 2, 9, 5], [20, 10, 25, 18]]
    assert inst.points.tolist() == [[5.5, 3.0], [22.0, 13.5]]
    assert inst.areas.tolist() == [18, 40]


def test_empty_and_blank_maps():
    assert extract_instances(np.zeros((0, 0), dtype=bool)).count == 0
    blank = extract_instances(np.zeros((8, 8)))
    assert blank.count == 0
    assert blank.points.shape == (0, 2) and blank.boxes.shape == (0, 4) and blank.areas.shape == (0,)


def test_batch():
    b = torch.zeros(3, 1, 6, 6)
    b[0, 0] = torch.from_numpy(_method_md_case())
    b[2, 0, 1:4, 1:4] = 1
    out = extract_instances_batch(b)
    assert [o.count for o in out] == [1, 0, 1]
    assert out[2].points[0].tolist() == [2.0, 2.0]
    assert [o.count for o in extract_instances_batch([np.ones((2, 2)), np.zeros((2, 2))])] == [1, 0]


def test_errors():
    with pytest.raises(ValueError, match="only 0 and 1"):
        extract_instances(np.full((4, 4), 0.7))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(1, H, W\), got shape \(2, 4, 4\)"):
        extract_instances(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="connectivity"):
        extract_instances(np.zeros((4, 4)), connectivity=6)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        extract_instances_batch(np.zeros((4, 4)))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_tensors(dtype):
    b = torch.from_numpy(_method_md_case()).to(dtype)
    assert extract_instances(b, min_area=0).count == 2
    assert [i.count for i in extract_instances_batch(b[None, None])] == [1]
