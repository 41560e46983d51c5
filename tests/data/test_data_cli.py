"""iim-data: check lists every problem, convert writes layouts the readers read back, synth writes scenes; usage
errors are named."""

from __future__ import annotations

import numpy as np

from helpers.fake_datasets import write_custom, write_nwpu, write_shanghaitech
from iim.cli.data import main
from iim.data import get_reader
from iim.metrics import read_gt_loc


def test_check_prints_a_summary(tmp_path, capsys):
    write_shanghaitech(tmp_path)
    assert main(["check", str(tmp_path), "format=shanghaitech", "val_fraction=0.25"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "val" in out and "test" in out and "no problems found" in out
    assert "64x48" in out


def test_check_lists_all_problems_and_fails(tmp_path, capsys):
    write_custom(tmp_path)
    (tmp_path / "images" / "t1.jpg").write_bytes(b"garbage")
    (tmp_path / "annotations" / "v1.json").write_text("[[1, 2], [3]]")
    assert main(["check", str(tmp_path), "format=custom"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s) found (2 that stop reading)" in out
    assert "t1.jpg: unreadable image" in out and "v1.json: cannot parse annotation" in out


def test_check_missing_root(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none"), "format=nwpu"]) == 2
    assert "data.root=" in capsys.readouterr().err
    # usage errors name what is missing or wrong
    assert main(["check", str(tmp_path)]) == 2
    assert "iim-data: error: missing format=..." in capsys.readouterr().err
    assert main(["check", str(tmp_path), "format=nwpux"]) == 2
    assert "format must be one of" in capsys.readouterr().err
    assert main(["chek", str(tmp_path)]) == 2
    assert "unknown command 'chek'" in capsys.readouterr().err
    assert main([f"root={tmp_path}", "format=nwpu"]) == 2
    assert "the first word is the command: check, convert, synth" in capsys.readouterr().err
    assert main(["check", str(tmp_path), f"root={tmp_path}", "format=nwpu"]) == 2
    assert "root is given twice" in capsys.readouterr().err


def test_convert_to_custom_and_read_back(tmp_path, capsys):
    expected = write_nwpu(tmp_path / "nwpu")
    assert main(["convert", str(tmp_path / "nwpu"), str(tmp_path / "out"), "format=nwpu", "to=custom"]) == 0
    reader = get_reader("custom", tmp_path / "out")
    for split in ("train", "val"):
        for record in reader.read(split):
            pts, boxes = expected[split][record.image_id]
            np.testing.assert_allclose(record.points, pts, atol=1e-3)
            np.testing.assert_allclose(record.boxes, boxes, atol=1e-3)
    assert main(["convert", str(tmp_path / "nwpu"), "format=nwpu", "to=custom", f"out={tmp_path / 'out'}"]) == 2
    assert "is not empty; choose another folder or pass overwrite=true" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nwpu"), "format=nwpu", f"out={tmp_path / 'out2'}"]) == 2
    assert "missing to=..." in capsys.readouterr().err


def test_convert_to_the_original_layout(tmp_path):
    write_shanghaitech(tmp_path / "sh")
    out = tmp_path / "iim"
    assert (
        main(
            [
                "convert",
                str(tmp_path / "sh"),
                str(out),
                "format=shanghaitech",
                "to=iim",
                "link=true",
                "val_fraction=0.25",
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
    assert main(["synth", str(tmp_path / "s"), "train=3", "val=1", "test=1", "height=64", "width=64"]) == 0
    assert len(get_reader("custom", tmp_path / "s").read("train")) == 3
    assert not (tmp_path / "s" / ".hydra").exists() and not list(tmp_path.glob("*.log"))
    assert main(["synth"]) == 2
    assert "missing out=..." in capsys.readouterr().err
