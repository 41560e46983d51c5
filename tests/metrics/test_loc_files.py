"""Readers/writers of the NWPU localization files: the real val file, tolerated variants, errors with line numbers."""

from __future__ import annotations

import numpy as np
import pytest

from iim.metrics import (
    GTLocRecord,
    LocFileError,
    parse_image_id,
    read_gt_loc,
    read_pred_loc,
    write_gt_loc,
    write_pred_loc,
)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.data
def test_nwpu_val_gt_file(nwpu_val_gt):
    gt = read_gt_loc(nwpu_val_gt)
    assert len(gt) == 500
    levels = np.concatenate([rec.level for rec in gt.values()])
    assert np.bincount(levels, minlength=6).tolist() == [1251, 25032, 118515, 45050, 5916, 474]
    ids = list(gt)
    assert ids[0] == 3110 and all(isinstance(i, int) for i in ids)
    assert 3098 in gt and 3169 not in gt  # the NWPU val split's quirk
    first = gt[3110]
    assert first.num == 240 == len(first)
    assert first.points[0].tolist() == [851.0, 1304.0]
    assert (first.sigma_s[0], first.sigma_l[0], first.level[0]) == (15, 23, 3)
    assert all((rec.sigma_s <= rec.sigma_l).all() for rec in gt.values())  # half the short side <= half the diagonal
    assert sum(rec.num for rec in gt.values()) == sum(len(rec) for rec in gt.values()) == levels.size


def test_gt_reader_tolerates_num_above_heads_blank_lines_floats_and_odd_ids(tmp_path):
    text = (
        "3110 3 10 10 2 6 1 30 10 2 6 2\n"  # num 3 but 2 heads: a zero-area box has no tuple; not an error
        "\n"
        "0007   1\t10.5 20.25 1.5 3 0\n"  # leading zeros, tabs, float x, y and radius
        "img_a 0\n"
    )
    gt = read_gt_loc(write(tmp_path, "gt.txt", text))
    assert list(gt) == [3110, 7, "img_a"]
    assert gt[3110].num == 3 and len(gt[3110]) == 2
    assert gt[3110].level.tolist() == [1, 2] and gt[3110].level.dtype == np.int64
    assert gt[7].points.tolist() == [[10.5, 20.25]] and gt[7].sigma_s.tolist() == [1.5]
    assert gt["img_a"].points.shape == (0, 2) and gt["img_a"].num == 0
    target = gt[3110].as_target()
    assert target["count"] == 3 and target["points"].shape == (2, 2)
    assert "num=3" in repr(gt[3110])


def test_pred_reader(tmp_path):
    preds = read_pred_loc(write(tmp_path, "pred.txt", "3611 0\n3612 3 1 1 2 2 3 3\n\n3613 1 0.5 7.25\n"))
    assert list(preds) == [3611, 3612, 3613]
    assert preds[3611].shape == (0, 2)
    assert preds[3612].tolist() == [[1, 1], [2, 2], [3, 3]]
    assert preds[3613].tolist() == [[0.5, 7.25]]


def test_parse_image_id():
    assert parse_image_id("3110") == 3110 == parse_image_id("03110")
    assert parse_image_id("IMG_12") == "IMG_12"
    assert parse_image_id("-3") == "-3"


@pytest.mark.parametrize(
    ("text", "line", "pattern"),
    [
        ("1 1 10 10 2 6 1\n2 1 10 10 2 6\n", 2, r"expected 2 \+ 5k tokens .*found 6 tokens \(4 after <id> <num>"),
        ("1 1 10 10 2 6 1\n\n3 1 10 ten 2 6 1\n", 3, r"token 4 \('ten'\) is not a finite number"),
        ("1 1 10 nan 2 6 1\n", 1, r"token 4 \('nan'\) is not a finite number"),
        ("1 1 10 10 -2 6 1\n", 1, r"head 1: expected sigma_s, sigma_l >= 0, found \[-2.0, 6.0\]"),
        ("1 2 10 10 2 6 1 5 5 1 1 6\n", 1, r"head 2: expected a level that is an integer 0..5, found '6'"),
        ("1 1 10 10 2 6 2.5\n", 1, r"expected a level that is an integer 0..5, found '2.5'"),
        ("1 1 10 10 2 6 1\n01 1 10 10 2 6 1\n", 2, r"image id '01' appears again \(first on line 1\)"),
        ("1\n", 1, r"expected '<id> <num> x y sigma_s sigma_l level ...', found 1 token"),
        ("1 1.0 10 10 2 6 1\n", 1, r"expected the count <num> as an integer >= 0 \(2nd token\), found '1.0'"),
        ("1 -1\n", 1, r"found '-1'"),
    ],
)
def test_gt_reader_errors_name_file_line_and_expectation(tmp_path, text, line, pattern):
    path = write(tmp_path, "bad_gt.txt", text)
    with pytest.raises(LocFileError, match=pattern) as info:
        read_gt_loc(path)
    assert info.value.line == line and info.value.path == str(path)
    assert str(info.value).startswith(f"{path}, line {line}: ")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "pattern"),
    [
        ("1 2 1 1 2\n", 1, r"expected 2 \+ 2 \* num = 6 tokens for num = 2 .*found 5"),
        ("1 0\n2 1 1 1 2 2\n", 2, r"expected 2 \+ 2 \* num = 4 tokens for num = 1 .*found 6"),
        ("1 1 1 x\n", 1, r"token 4 \('x'\) is not a finite number; expected x y coordinates"),
        ("1 1 1 inf\n", 1, r"token 4 \('inf'\) is not a finite number"),
        ("5 0\n5 0\n", 2, r"image id '5' appears again"),
        ("5 two 1 1\n", 1, r"expected the count <num> as an integer"),
    ],
)
def test_pred_reader_errors_name_file_line_and_expectation(tmp_path, text, line, pattern):
    path = write(tmp_path, "bad_pred.txt", text)
    with pytest.raises(LocFileError, match=pattern) as info:
        read_pred_loc(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: ")


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_gt_loc(tmp_path / "nope.txt")


def test_gt_writer_reader_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    records = {
        3110: GTLocRecord.from_arrays(
            rng.integers(0, 2000, size=(50, 2)),
            rng.integers(0, 20, 50),
            rng.integers(20, 40, 50),
            rng.integers(0, 6, 50),
        ),
        "img_b": GTLocRecord.from_arrays([[1.5, 2.25]], [0.5], [1], [5], num=4),
        7: GTLocRecord.from_arrays(np.zeros((0, 2)), [], [], []),
    }
    path = tmp_path / "gt.txt"
    write_gt_loc(path, records)
    assert path.read_text().splitlines()[2] == "7 0"
    back = read_gt_loc(path)
    assert list(back) == list(records)
    for key, rec in records.items():
        got = back[key]
        assert got.num == rec.num
        for field in ("points", "sigma_s", "sigma_l", "level"):
            assert np.array_equal(getattr(got, field), getattr(rec, field)), (key, field)
    r = records[3110]
    first = path.read_text().splitlines()[0].split()
    expected = [3110, 50, *r.points[0].astype(int), int(r.sigma_s[0]), int(r.sigma_l[0]), r.level[0]]
    assert first[:7] == [str(v) for v in expected]  # integer values are written as ints, like the reference files


def test_pred_writer_truncates_like_the_reference_and_round_trips(tmp_path):
    preds = {3612: np.array([[1.9, 2.1], [3.0, 4.99], [-0.5, 7.5]]), 3611: np.zeros((0, 2))}
    path = tmp_path / "pred.txt"
    write_pred_loc(path, preds)
    assert path.read_text() == "3612 3 1 2 3 4 0 7\n3611 0\n"  # int(): truncation toward zero
    back = read_pred_loc(path)
    assert back[3612].tolist() == [[1, 2], [3, 4], [0, 7]] and back[3611].shape == (0, 2)
    exact = tmp_path / "exact.txt"
    write_pred_loc(exact, preds, truncate=False)
    assert np.array_equal(read_pred_loc(exact)[3612], preds[3612])


def test_writer_and_record_errors(tmp_path):
    with pytest.raises(ValueError, match=r"image ids must be ints or non-empty strings without whitespace"):
        write_pred_loc(tmp_path / "p.txt", {"a b": [[1, 2]]})
    with pytest.raises(ValueError, match=r"points of image 3 must have shape \(N, 2\)"):
        write_pred_loc(tmp_path / "p.txt", {3: [1, 2, 3]})
    with pytest.raises(ValueError, match=r"image 1 must be a GTLocRecord"):
        write_gt_loc(tmp_path / "g.txt", {1: {"points": [[1, 2]]}})
    with pytest.raises(ValueError, match=r"GTLocRecord: `sigma_l` must have shape \(G,\) = \(2,\)"):
        GTLocRecord.from_arrays([[1, 2], [3, 4]], [1, 1], [1], [0, 0])
    with pytest.raises(ValueError, match=r"GTLocRecord: `level` must be integers in \[0, 6\)"):
        GTLocRecord.from_arrays([[1, 2]], [1], [1], [9])
    with pytest.raises(ValueError, match=r"GTLocRecord: `num` must be an integer >= 0"):
        GTLocRecord.from_arrays([[1, 2]], [1], [1], [0], num=-2)
