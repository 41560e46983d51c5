"""iim-data: check lists every problem, convert writes layouts the readers read back, synth writes scenes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.fake_datasets import write_custom, write_nwpu, write_shanghaitech
from iim.cli.data import main
from iim.data import get_reader
from iim.metrics import read_gt_loc


def test_check_prints_a_summary(tmp_path, capsys):
    write_shanghaitech(tmp_path)
    assert main(["check", str(tmp_path), "--format", "shanghaitech", "--val-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "val" in out and "test" in out and "no problems found" in out
    assert "64x48" in out


def test_check_lists_all_problems_and_fails(tmp_path, capsys):
    write_custom(tmp_path)
    (tmp_path / "images" / "t1.jpg").write_bytes(b"garbage")
    (tmp_path / "annotations" / "v1.json").write_text("[[1, 2], [3]]")
    assert main(["check", str(tmp_path), "-f", "custom"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s) found (2 that stop reading)" in out
    assert "t1.jpg: unreadable image" in out and "v1.json: cannot parse annotation" in out


def test_check_missing_root(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none"), "-f", "nwpu"]) == 2
    assert "data.root=" in capsys.readouterr().err


def test_convert_to_custom_and_read_back(tmp_path):
    expected = write_nwpu(tmp_path / "nwpu")
    assert main(["convert", str(tmp_path / "nwpu"), "-f", "nwpu", "--to", "custom", str(tmp_path / "out")]) == 0
    reader = get_reader("custom", tmp_path / "out")
    for split in ("train", "val"):
        for record in reader.read(split):
            pts, boxes = expected[split][record.image_id]
            np.testing.assert_allclose(record.points, pts, atol=1e-3)
            np.testing.assert_allclose(record.boxes, boxes, atol=1e-3)
    assert main(["convert", str(tmp_path / "nwpu"), "-f", "nwpu", "--to", "custom", str(tmp_path / "out")]) == 2


def test_convert_to_the_original_layout(tmp_path):
    write_shanghaitech(tmp_path / "sh")
    out = tmp_path / "iim"
    assert (
        main(
            [
                "convert",
                str(tmp_path / "sh"),
                "-f",
                "shanghaitech",
                "--to",
                "iim",
                str(out),
                "--link",
                "--val-fraction",
                "0.25",
            ]
        )
        == 0
    )
    assert (out / "images" / "IMG_3.jpg").is_symlink()  # only in train: keeps its id
    assert (out / "images" / "test_IMG_1.jpg").is_symlink()  # IMG_1 is in train and test: prefixed
    masks = sorted((out / "mask_50_60").glob("*.png"))
    assert len(masks) == 6
    records = get_reader("iim", out).read("val")
    assert len(records) == 1 and records[0].boxes is not None
    gt = read_gt_loc(out / "val_gt_loc.txt")
    assert len(gt) == 1
    (only,) = gt.values()
    assert only.num == records[0].count


def test_synth(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                str(tmp_path / "s"),
                "--train",
                "3",
                "--val",
                "1",
                "--test",
                "1",
                "--height",
                "64",
                "--width",
                "64",
            ]
        )
        == 0
    )
    assert len(get_reader("custom", tmp_path / "s").read("train")) == 3
    with pytest.raises(SystemExit):
        main(["synth"])
