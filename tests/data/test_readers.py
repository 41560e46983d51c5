"""Dataset readers: every layout written as a tiny fake dataset and read back; real ShanghaiTech; bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.fake_datasets import WRITERS, write_custom, write_shanghaitech
from helpers.shared import shared_path
from iim.data import DatasetError, get_reader
from iim.data.readers import seeded_split


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_fake_dataset_reads_back(tmp_path, fmt):
    expected = WRITERS[fmt](tmp_path)
    reader = (
        get_reader(fmt, tmp_path, val_fraction=0.0)
        if fmt in ("shanghaitech", "qnrf", "fdst")
        else get_reader(fmt, tmp_path)
    )
    for split, images in expected.items():
        records = reader.read(split)
        assert sorted(r.image_id for r in records) == sorted(images), split
        for r in records:
            pts, boxes = images[r.image_id]
            assert (r.height, r.width) == (48, 64)
            assert r.points.dtype == np.float32 and r.points.shape == (len(pts), 2)
            np.testing.assert_allclose(r.points, pts, atol=1e-3)
            if boxes is None:
                assert r.boxes is None
            else:
                np.testing.assert_allclose(r.boxes, boxes, atol=1e-3)
            assert r.annotated is not (fmt == "nwpu" and split == "test")


def test_grayscale_image_is_read_as_rgb(tmp_path):
    write_shanghaitech(tmp_path)
    from iim.io import load_image

    image = load_image(tmp_path / "train_data" / "images" / "IMG_2.jpg")
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8


def test_seeded_validation_split_is_reproducible_and_written(tmp_path):
    write_shanghaitech(tmp_path / "ds")
    split_file = tmp_path / "split.txt"
    reader = get_reader("shanghaitech", tmp_path / "ds", val_fraction=0.25, seed=7, split_file=split_file)
    assert reader.splits() == ["train", "val", "test", "trainval"]
    train, val = reader.read("train"), reader.read("val")
    assert len(train) == 3 and len(val) == 1
    assert {r.image_id for r in train}.isdisjoint({r.image_id for r in val})
    assert split_file.read_text().count("val ") == 1
    again = get_reader("shanghaitech", tmp_path / "ds", val_fraction=0.25, seed=7)
    assert [r.image_id for r in again.read("val")] == [r.image_id for r in val]
    # a pinned split file wins over the seed
    split_file.write_text("train IMG_1\ntrain IMG_2\ntrain IMG_3\nval IMG_4\n")
    pinned = get_reader("shanghaitech", tmp_path / "ds", val_fraction=0.25, seed=99, split_file=split_file)
    assert [r.image_id for r in pinned.read("val")] == ["IMG_4"]
    assert len(pinned.read("trainval")) == 4


def test_seeded_split_function():
    ids = [f"x{i}" for i in range(50)]
    a = seeded_split(ids, 0.2, seed=1)
    assert a == seeded_split(list(reversed(ids)), 0.2, seed=1)
    assert len(a[1]) == 10 and a != seeded_split(ids, 0.2, seed=2)
    with pytest.raises(ValueError, match="val_fraction"):
        seeded_split(ids, 1.0, seed=0)


def test_fdst_holds_out_whole_videos(tmp_path):
    WRITERS["fdst"](tmp_path)
    reader = get_reader("fdst", tmp_path, val_fraction=0.34, seed=0)
    val_videos = {r.meta["video"] for r in reader.read("val")}
    train_videos = {r.meta["video"] for r in reader.read("train")}
    assert len(val_videos) == 1 and val_videos.isdisjoint(train_videos)


def test_custom_without_split_files_and_negative_images(tmp_path):
    write_custom(tmp_path, with_splits=False)
    reader = get_reader("custom", tmp_path, val_fraction=0.2, seed=0)
    records = reader.read("trainval")
    assert len(records) == 5
    assert any(r.count == 0 for r in records)  # the negative image is valid data
    assert len(reader.read("val")) == 1


def test_missing_root_names_the_key_to_set(tmp_path):
    with pytest.raises(DatasetError, match=r"data.root=.*part_A"):
        get_reader("shanghaitech", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown dataset format 'nope'"):
        get_reader("nope", tmp_path)


def test_problems_are_collected_and_named(tmp_path):
    write_custom(tmp_path)
    (tmp_path / "images" / "t1.jpg").write_bytes(b"not an image")  # corrupt image
    (tmp_path / "annotations" / "t2.json").write_text("{broken")  # unparsable annotation
    (tmp_path / "images" / "v1.jpg").unlink()  # missing image
    # a point far outside the image (clipped, reported, not fatal) and a count that disagrees (reported)
    (tmp_path / "annotations" / "x1.json").write_text(json.dumps({"points": [[10, 10], [500, 20]], "count": 3}))
    reader = get_reader("custom", tmp_path)
    _, problems = reader.scan("train")
    messages = [str(p) for p in problems]
    assert any("t1.jpg" in m and "unreadable image" in m for m in messages)
    assert any("t2.json" in m and "cannot parse" in m for m in messages)
    with pytest.raises(DatasetError, match=r"2 file\(s\) of split 'train'") as err:
        reader.read("train")
    assert len(err.value.problems) == 2
    with pytest.raises(DatasetError, match=r"v1\.jpg: image file is missing"):
        reader.read("val")
    test_records, test_problems = reader.scan("test")
    assert test_records[0].meta["points_clipped"] == 1
    assert test_records[0].points[:, 0].max() == 63
    assert {p.fatal for p in test_problems} == {False}
    assert any("outside the 64x48 image" in str(p) for p in test_problems)
    assert any("stated count 3 differs from the 2 points" in str(p) for p in test_problems)
    dropped = get_reader("custom", tmp_path, out_of_bounds="drop").scan("test")[0][0]
    assert dropped.count == 1 and dropped.meta["points_dropped"] == 1


def test_malformed_text_annotation(tmp_path):
    write_custom(tmp_path)
    (tmp_path / "annotations" / "t2.txt").write_text("1 2\n3 4 5\n")
    (tmp_path / "annotations" / "t2.json").unlink(missing_ok=True)
    _, problems = get_reader("custom", tmp_path).scan("train")
    assert any("line 2: expected 'x y' or 'x y x1 y1 x2 y2'" in str(p) for p in problems)


@pytest.mark.parametrize(("part", "images", "heads"), [("part_B", 400, 49_151), ("part_A", 300, 162_413)])
def test_real_shanghaitech_train(part, images, heads):
    root = shared_path("data", "shanghaitech", part)
    records = get_reader("shanghaitech", root).read("trainval")
    assert len(records) == images
    assert sum(r.count for r in records) == heads
    for r in records:
        assert r.points[:, 0].min(initial=0) >= 0 and r.points[:, 0].max(initial=0) <= r.width - 1
        assert r.points[:, 1].min(initial=0) >= 0 and r.points[:, 1].max(initial=0) <= r.height - 1
        assert r.meta["count"] == r.count


def test_truncated_image_is_reported_by_scan(tmp_path):
    write_custom(tmp_path)
    path = tmp_path / "images" / "t1.jpg"
    path.write_bytes(path.read_bytes()[:-200])
    _, problems = get_reader("custom", tmp_path).scan("train")
    assert any("t1.jpg: truncated JPEG" in str(p) for p in problems)


@pytest.mark.parametrize("fmt", ["nwpu", "shanghaitech"])
def test_scale_resizes_images_with_their_points_and_boxes(tmp_path, fmt):
    from iim.data.dataset import CrowdDataset

    expected = WRITERS[fmt](tmp_path)
    options = {"val_fraction": 0.0} if fmt == "shanghaitech" else {}
    plain = get_reader(fmt, tmp_path, **options).read("train")
    scaled = get_reader(fmt, tmp_path, scale=2, **options).read("train")
    assert [r.image_id for r in scaled] == [r.image_id for r in plain] and set(expected)
    for a, b in zip(plain, scaled, strict=True):
        assert (b.height, b.width) == (96, 128) and b.meta["source_size"] == (48, 64)
        np.testing.assert_allclose(b.points, (a.points + 0.5) * 2 - 0.5, atol=1e-4)  # pixel centres
        if a.boxes is not None:
            np.testing.assert_allclose(b.boxes, a.boxes * 2, atol=1e-4)
    big, small = CrowdDataset(scaled, transform=None), CrowdDataset(plain, transform=None)  # type: ignore[arg-type]
    image, original = big.image(0), small.image(0)
    assert image.shape == (96, 128, 3)
    assert abs(float(image.mean()) - float(original.mean())) < 2.0  # the same picture, twice the size
    with pytest.raises(ValueError, match="scale"):
        get_reader(fmt, tmp_path, scale=0, **options)
