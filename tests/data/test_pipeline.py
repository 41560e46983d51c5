"""The augmentation pipeline and DataModule: heads move with the image, every head keeps its own component,
worker reseeding, reproducibility, the original's target mode, collate; the window-first pipeline against the
stage-by-stage one and against a full resize."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from iim.data import (
    CrowdDataModule,
    CrowdDataset,
    SyntheticSource,
    collate_crowd,
    eval_transform,
    train_transform,
    write_synthetic_dataset,
)
from iim.data.readers import get_reader
from iim.data.transforms import CrowdTransform, RandomScaleCrop, _to_chw
from iim.targets import boxes_to_instance_map

MEAN = (0.5, 0.5, 0.5)


def _coordinate_image(h: int, w: int) -> np.ndarray:
    """Red channel = x / 4, green = y / 4: the image itself tells where each pixel came from."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx / 4, yy / 4, np.zeros_like(xx)], axis=2).astype(np.uint8)


def test_points_and_boxes_move_with_the_image():
    rng = np.random.default_rng(0)
    h, w = 600, 900
    points = np.stack([rng.uniform(0, w - 1, 300), rng.uniform(0, h - 1, 300)], axis=1).astype(np.float32)
    boxes = np.concatenate([points - 6, points + 6], axis=1).clip(0, [w, h, w, h]).astype(np.float32)
    t = train_transform(crop_size=(256, 384), scale_range=(0.8, 1.2), hflip=0.5, mean=MEAN, seed=3)
    flips = 0
    for _ in range(6):
        out = t(_coordinate_image(h, w), points, boxes)
        image = out["image"].numpy() / 255.0
        assert out["image"].shape == (3, 256, 384) and out["instance_map"].shape == (1, 256, 384)
        assert len(out["points"]) == len(out["boxes"]) == len(out["head_ids"]) > 0
        for (x, y), box, hid in zip(out["points"].numpy(), out["boxes"].numpy(), out["head_ids"].numpy()):
            assert 0 <= x < 384 and 0 <= y < 256
            px, py = min(round(float(x)), 383), min(round(float(y)), 255)
            src_x, src_y = image[0, py, px] * 255 * 4, image[1, py, px] * 255 * 4
            ox, oy = points[hid]
            assert abs(src_x - ox) < 8 and abs(src_y - oy) < 8  # the pixel under the point came from the head
            assert box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1
            scale = (box[3] - box[1]) / 12
            assert 0.75 < scale < 1.25 or box[1] == 0 or box[3] >= 255  # boxes scale with the image
        flips += int(image[0, :, 0].mean() > image[0, :, -1].mean())  # red (= source x) falls left to right
    assert 0 < flips < 6  # both flipped and unflipped samples were checked


def test_each_head_in_the_crop_has_its_own_component():
    source = SyntheticSource(train=6, seed=5, max_heads=150)
    dataset = CrowdDataset(source.read("train"), train_transform(crop_size=(256, 256), seed=0))
    checked = 0
    for _ in range(2):
        for i in range(len(dataset)):
            sample = dataset[i]
            mask = sample["instance_map"][0].numpy().astype(np.uint8)
            _, labels = cv2.connectedComponents(mask, connectivity=4)
            pts = sample["points"].numpy()
            if not len(pts):
                continue
            ids = labels[np.round(pts[:, 1]).astype(int).clip(0, 255), np.round(pts[:, 0]).astype(int).clip(0, 255)]
            inside = ids > 0
            assert inside.mean() > 0.97  # the rare head dropped by "separate" (centres 8-adjacent) is the exception
            assert len(np.unique(ids[inside])) == inside.sum()  # no two heads share a component
            checked += int(inside.sum())
    assert checked > 200


def test_original_target_mode_resizes_the_full_size_map():
    rng = np.random.default_rng(1)
    points = rng.uniform(20, 200, size=(40, 2)).astype(np.float32)
    boxes = np.concatenate([points - 5, points + 5], axis=1).astype(np.float32)
    image = rng.integers(0, 255, size=(240, 240, 3), dtype=np.uint8)
    t = train_transform(crop_size=(240, 240), scale_range=(0.5, 0.5), hflip=0.0, target_mode="original", seed=0)
    out = t(image, points, boxes)
    assert out["instance_map"].shape == (1, 240, 240)
    from iim.targets import boxes_to_instance_map

    full = boxes_to_instance_map(boxes, 240, 240).astype(np.uint8)
    half = cv2.resize(full, (120, 120), interpolation=cv2.INTER_NEAREST)
    assert out["instance_map"].sum() == half.sum()  # the padded crop holds the nearest-resized full-size map


def test_eval_transform_keeps_the_whole_image():
    source = SyntheticSource(val=2, seed=1, height=100, width=130)
    dataset = CrowdDataset(source.read("val"), eval_transform())
    sample = dataset[0]
    assert sample["image"].shape == (3, 100, 130)
    assert torch.equal(sample["image"].permute(1, 2, 0), torch.from_numpy(dataset.records[0].image))
    assert not np.may_share_memory(sample["image"].numpy(), dataset.records[0].image)  # a copy, not the record
    assert torch.equal(sample["points"], torch.from_numpy(dataset.records[0].points))
    assert sample["meta"]["size"] == (100, 130)


def test_collate_and_errors():
    source = SyntheticSource(train=3, seed=2)
    dataset = CrowdDataset(source.read("train"), train_transform(crop_size=(64, 96), seed=0))
    samples = [dataset[0], dataset[1]]
    batch = collate_crowd(samples)
    assert batch["image"].shape == (2, 3, 64, 96) and batch["instance_map"].shape == (2, 1, 64, 96)
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch["image"], torch.stack([s["image"] for s in samples]))
    assert torch.equal(batch["instance_map"], torch.stack([s["instance_map"] for s in samples]))
    contiguous = [{**s, "image": s["image"].contiguous()} for s in samples]
    assert torch.equal(collate_crowd(contiguous)["image"], batch["image"])  # any layout stacks
    fixed = CrowdDataset(source.read("train"), eval_transform())
    loader = torch.utils.data.DataLoader(fixed, batch_size=2, num_workers=1, collate_fn=collate_crowd)
    from_worker = next(iter(loader))  # built in shared memory by the worker
    assert from_worker["image"].is_shared() and from_worker["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(from_worker["image"], collate_crowd([fixed[0], fixed[1]])["image"])
    assert isinstance(batch["points"], list) and len(batch["points"]) == 2
    small = CrowdDataset(SyntheticSource(val=2, seed=1, height=40, width=50).read("val"), eval_transform())
    with pytest.raises(ValueError, match="batch_size=1"):
        collate_crowd([dataset[0], small[0]])


def _quarter_pixel_heads(rng: np.random.Generator, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Points at quarter pixels and boxes whose centres are the points (no centre falls on a whole pixel, so float
    rounding in either pipeline cannot move a truncated centre)."""
    points = (rng.integers(0, [w - 1, h - 1], size=(n, 2)) + 0.25).astype(np.float32)
    half = rng.integers(2, 12, size=(n, 2)) + 0.5
    boxes = np.concatenate([points - half, points + half], axis=1).clip(0, [w, h, w, h]).astype(np.float32)
    return points, boxes


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_window_first_matches_stage_by_stage_without_scaling(flip):
    # With scale 1 and a crop the size of the image, both pipelines are deterministic: same sample, pixel for pixel.
    rng = np.random.default_rng(4)
    h, w = 90, 130
    image = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    points, boxes = _quarter_pixel_heads(rng, 120, h, w)
    staged = CrowdTransform([A.HorizontalFlip(p=flip)], [A.RandomCrop(h, w)], seed=0)(image, points, boxes)
    fused = train_transform(crop_size=(h, w), scale_range=(1, 1), hflip=flip, seed=0)
    assert fused.window_first and not CrowdTransform([A.HorizontalFlip(p=flip)], seed=0).window_first
    fused_out = fused(image, points, boxes)
    for key in ("image", "instance_map", "head_ids"):
        assert torch.equal(staged[key], fused_out[key]), key
    for key in ("points", "boxes"):
        assert torch.allclose(staged[key], fused_out[key], atol=1e-3), key


@pytest.mark.parametrize(
    ("size", "crop", "scale", "flip"),
    [
        ((300, 400), (128, 160), (1.0, 1.0), 1.0),  # crop inside the image, mirrored window
        ((100, 140), (160, 200), (1.0, 1.0), 1.0),  # padding on both axes, mirrored offset
        ((300, 400), (128, 160), (0.8, 1.2), 0.0),  # scaled, crop inside
        ((300, 400), (128, 160), (0.8, 1.2), 1.0),  # scaled and mirrored
        ((100, 140), (128, 160), (0.8, 1.2), 0.5),  # scaled, padded on at least one axis
    ],
)
def test_instance_map_is_the_window_of_the_map_at_the_scaled_size(size, crop, scale, flip):
    rng = np.random.default_rng(7)
    h, w = size
    image = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    points, boxes = _quarter_pixel_heads(rng, 150, h, w)
    t = train_transform(crop_size=crop, scale_range=scale, hflip=flip, seed=1)
    for _ in range(6):
        out = t(image, points, boxes)
        p = t.geometric.transforms[0].get_applied_params()
        flipped = len(t.geometric.transforms) > 1 and bool(t.geometric.transforms[1].get_applied_params())
        (sh, sw), (wx0, wy0, wx1, wy1), (rx0, ry0, rx1, ry1), (ox, oy) = (
            p["scaled_shape"],
            p["window"],
            p["region"],
            p["offset"],
        )
        # every box edge, in the output's coordinates, as the pipeline moves it (float32 keypoints, pixel-centre
        # convention: an edge at e is the keypoint e - 0.5) ...
        kx, ky = (wx1 - wx0) / (rx1 - rx0), (wy1 - wy0) / (ry1 - ry0)
        corners = boxes.reshape(-1, 2) - np.float32(0.5)
        corners[:, 0] = (corners[:, 0] + 0.5 - rx0) * kx - 0.5 + ox
        corners[:, 1] = (corners[:, 1] + 0.5 - ry0) * ky - 0.5 + oy
        if flipped:
            corners[:, 0] = (crop[1] - 1) - corners[:, 0]
            wx0, wx1, ox = sw - wx1, sw - wx0, crop[1] - (wx1 - wx0) - ox
        edges = corners.reshape(-1, 4).astype(np.float64) + 0.5
        edges = np.concatenate([np.minimum(edges[:, :2], edges[:, 2:]), np.maximum(edges[:, :2], edges[:, 2:])], 1)
        # ... shifted into the scaled (mirrored) image, whose whole map is cropped to the window and placed
        full = boxes_to_instance_map(edges + np.tile([wx0 - ox, wy0 - oy], 2), sh, sw)
        expected = np.zeros(crop, dtype=np.uint8)
        expected[oy : oy + wy1 - wy0, ox : ox + wx1 - wx0] = full[wy0:wy1, wx0:wx1]
        assert np.array_equal(out["instance_map"][0].numpy(), expected)
        assert out["image"].shape == (3, *crop)


def test_random_scale_crop_resamples_like_a_full_resize_then_crop():
    # A smooth image: the window-first output matches resizing the whole image then cropping, up to the (sub-pixel)
    # placement of the region, and keypoints, box edges and masks follow the pixels.
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([xx * 0.7, yy * 0.9, (xx + yy) * 0.4], axis=2).astype(np.uint8)
    mask = ((xx // 20 + yy // 20) % 2).astype(np.uint8)
    pts = np.array([[10.0, 20.0], [200.5, 100.25], [319.0, 239.0]], dtype=np.float32)
    bxs = np.array([[5.0, 15.0, 15.0, 25.0], [190.5, 90.25, 210.5, 110.25], [300.0, 220.0, 320.0, 240.0]])
    t = RandomScaleCrop((150, 200), scale_range=(0.8, 1.2), fill=(10, 20, 30), fill_mask=0)
    compose = A.Compose(
        [t],
        seed=3,
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["ids"], clip=False, filter_invalid_bboxes=False),
    )
    for _ in range(10):
        out = compose(image=image, mask=mask, keypoints=pts, bboxes=bxs, ids=np.arange(3))
        p = t.get_applied_params()
        (sh, sw), (wx0, wy0, wx1, wy1), (ox, oy) = p["scaled_shape"], p["window"], p["offset"]
        ref = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_LINEAR)[wy0:wy1, wx0:wx1].astype(int)
        got = out["image"][oy : oy + wy1 - wy0, ox : ox + wx1 - wx0].astype(int)
        assert got.shape == ref.shape and np.abs(got - ref).mean() < 1.5  # within about a pixel's shift of a ramp
        pad = np.ones(out["image"].shape[:2], dtype=bool)
        pad[oy : oy + wy1 - wy0, ox : ox + wx1 - wx0] = False
        assert (out["image"][pad] == (10, 20, 30)).all() and (out["mask"][pad] == 0).all()
        kx, ky = (wx1 - wx0) / (p["region"][2] - p["region"][0]), (wy1 - wy0) / (p["region"][3] - p["region"][1])
        expected_pts = (pts + 0.5 - p["region"][:2]) * (kx, ky) - 0.5 + (ox, oy)
        assert np.allclose(np.asarray(out["keypoints"])[:, :2], expected_pts, atol=1e-3)
        expected_boxes = (bxs - np.tile(p["region"][:2], 2)) * (kx, ky, kx, ky) + (ox, oy, ox, oy)
        kept = np.asarray(out["ids"])
        assert np.allclose(np.asarray(out["bboxes"]), np.clip(expected_boxes[kept], 0, (200, 150, 200, 150)), atol=1e-2)
        for (x, y), value in zip(expected_pts, image[pts[:, 1].astype(int), pts[:, 0].astype(int)]):
            if 1 <= x < 199 and 1 <= y < 149:  # the pixel under a moved keypoint is the one it was on
                assert np.abs(out["image"][round(y), round(x)].astype(int) - value).max() <= 3


def test_random_scale_crop_draws_every_window_and_offset():
    t = RandomScaleCrop((50, 60), scale_range=(1.0, 1.0))
    compose = A.Compose([t], seed=0)
    starts, offsets = set(), set()
    for _ in range(400):
        compose(image=np.zeros((53, 40, 3), dtype=np.uint8))  # 3 rows to spare, 20 columns of padding
        starts.add(t.get_applied_params()["window"][1])
        offsets.add(t.get_applied_params()["offset"][0])
    assert starts == {0, 1, 2, 3} and offsets == set(range(21))


def test_window_first_without_heads_and_to_chw():
    t = train_transform(crop_size=(64, 96), seed=0)
    out = t(np.zeros((80, 100, 3), dtype=np.uint8), np.zeros((0, 2), dtype=np.float32))
    assert out["points"].shape == (0, 2) and out["boxes"].shape == (0, 4) and out["head_ids"].shape == (0,)
    assert out["instance_map"].shape == (1, 64, 96) and int(out["instance_map"].sum()) == 0
    image = np.random.default_rng(0).integers(0, 255, size=(7, 5, 3), dtype=np.uint8)
    chw = _to_chw(image)  # a channels-last view of the same memory
    assert chw.shape == (3, 7, 5) and chw.stride() == (1, 15, 3) and chw.data_ptr() == image.ctypes.data
    assert torch.equal(chw, torch.from_numpy(image).permute(2, 0, 1))
    copied = _to_chw(image, source=image)  # never a view of the caller's input
    assert torch.equal(copied, chw) and not np.may_share_memory(copied.numpy(), image)
    with pytest.raises(ValueError, match="RandomScaleCrop"):
        CrowdTransform([RandomScaleCrop((8, 8)), A.VerticalFlip()])


def test_window_first_keypoints_match_albumentations_processor():
    """The window-first path moves points with the arithmetic of the applied transforms' keypoint functions;
    albumentations' keypoint processor (Compose with KeypointParams, the same seed) gives the same points, bit for
    bit."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, size=(300, 500, 3), dtype=np.uint8)
    points = (rng.random((40, 2)) * (500, 300)).astype(np.float32)
    for seed in range(6):
        ours = train_transform(crop_size=(256, 384), seed=seed)
        reference = A.Compose(
            list(train_transform(crop_size=(256, 384)).geometric.transforms),  # the same transforms, other instances
            seed=seed,
            keypoint_params=A.KeypointParams(format="xy", label_fields=["ids"], remove_invisible=True),
        )
        out = ours(image, points)
        ref = reference(image=image, keypoints=points, ids=np.arange(len(points)))
        assert np.array_equal(out["image"].permute(1, 2, 0).numpy(), ref["image"])
        assert np.array_equal(out["head_ids"].numpy(), np.asarray(ref["ids"]))
        np.testing.assert_array_equal(out["points"].numpy(), np.asarray(ref["keypoints"])[:, :2])


def _first_batch_points(dm: CrowdDataModule) -> list[torch.Tensor]:
    return [p.clone() for batch in dm.train_dataloader() for p in batch["points"]]


def test_datamodule_workers_differ_and_runs_repeat():
    def make(num_workers: int) -> CrowdDataModule:
        return CrowdDataModule(
            SyntheticSource(train=8, val=2, seed=3, height=96, width=128),
            train_transform(crop_size=(64, 64), seed=0),
            eval_transform(),
            batch_size=1,
            num_workers=num_workers,
            seed=11,
        )

    run1, run2 = _first_batch_points(make(2)), _first_batch_points(make(2))
    assert len(run1) == 8 and all(torch.equal(a, b) for a, b in zip(run1, run2))
    # the same scene drawn by two workers gets different crops: compare crops of a fixed dataset through 2 workers
    dm = CrowdDataModule(
        SyntheticSource(train=1, seed=3, height=96, width=128),
        train_transform(crop_size=(32, 32), seed=0),
        eval_transform(),
        batch_size=1,
        num_workers=2,
        samples_per_epoch=8,
    )
    maps = [b["image"] for b in dm.train_dataloader()]
    worker0, worker1 = maps[0::2], maps[1::2]
    assert not all(torch.equal(a, b) for a, b in zip(worker0, worker1))


def test_datamodule_over_a_dataset_on_disk(tmp_path):
    write_synthetic_dataset(tmp_path / "synth", {"train": 4, "val": 2}, height=64, width=80)
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_dataset(tmp_path / "synth", {"train": 1})
    dm = CrowdDataModule(
        get_reader("custom", tmp_path / "synth"), train_transform(crop_size=(48, 48)), eval_transform(), batch_size=2
    )
    dm.setup("fit")
    train = next(iter(dm.train_dataloader()))
    assert train["image"].shape == (2, 3, 48, 48)
    val = list(dm.val_dataloader())
    assert len(val) == 2 and val[0]["image"].shape == (1, 3, 64, 80)


def _heads_as_keypoints(t: CrowdTransform, points: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: every point and box corner moved as an albumentations keypoint (float32, pixel-centre convention:
    an edge at e is the keypoint e - 0.5) by each applied transform's own ``apply_to_keypoints``, with the parameters
    it drew for the last sample; returns all points (N, 2) and box edges (N, 4), float64, before any selection."""
    n = len(points)
    keypoints = np.zeros((3 * n, 5), dtype=np.float32)
    keypoints[:n, :2] = points
    keypoints[n:, :2] = boxes.reshape(-1, 2).astype(np.float32) - np.float32(0.5)
    for transform in t.geometric.transforms:
        applied = transform.get_applied_params()
        if applied:
            keypoints = transform.apply_to_keypoints(keypoints, **applied)
    joined = keypoints[:, :2].astype(np.float64)
    corners = joined[n:].reshape(n, 4) + 0.5
    edges = np.concatenate([np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])], 1)
    return joined[:n], edges


@pytest.mark.parametrize("scale_p", [1.0, 0.5])
def test_window_first_heads_are_bit_identical_to_keypoint_functions(scale_p):
    # The compiled head pass does the keypoint functions' float32 arithmetic in their order: same bits.
    rng = np.random.default_rng(11)
    h, w = 210, 330
    image = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    points = (rng.random((300, 2)) * (w, h)).astype(np.float32)
    half = (rng.random((300, 2)) * 9 + 0.6).astype(np.float32)  # no box under 1 px (those are widened first)
    boxes = np.concatenate([points - half, points + half], axis=1).clip(0, [w, h, w, h]).astype(np.float32)
    t = train_transform(crop_size=(160, 256), scale_range=(0.7, 1.4), hflip=0.5, seed=2)
    t.geometric.transforms[0].p = scale_p
    for _ in range(12):
        out = t(image, points, boxes)
        pts, edges = _heads_as_keypoints(t, points, boxes)
        oh, ow = out["image"].shape[1:]
        inside = np.flatnonzero((pts[:, 0] >= 0) & (pts[:, 0] < ow) & (pts[:, 1] >= 0) & (pts[:, 1] < oh))
        assert np.array_equal(out["head_ids"].numpy(), inside)
        assert np.array_equal(out["points"].numpy(), pts[inside].astype(np.float32))
        expected = np.clip(edges[inside], 0, (ow, oh, ow, oh)).astype(np.float32)
        lost = ~((expected[:, 2] > expected[:, 0]) & (expected[:, 3] > expected[:, 1]))
        expected[lost] = np.concatenate([pts[inside][lost] - 0.5, pts[inside][lost] + 0.5], axis=1)
        assert np.array_equal(out["boxes"].numpy(), expected)


def test_transform_rejects_non_finite_heads_and_mismatched_boxes():
    t = train_transform(crop_size=(32, 32), seed=0)
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    points = np.array([[5.0, 5.0], [10.0, 12.0]], dtype=np.float32)
    boxes = np.array([[1.0, 1.0, 9.0, 9.0], [8.0, np.nan, 12.0, 14.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"head 1 has a point or box that is not finite"):
        t(image, points, boxes)
    with pytest.raises(ValueError, match=r"2 points but 1 boxes"):
        t(image, points, boxes[:1])
    degenerate = np.array([[5.0, 5.0, 5.0, 5.0], [10.0, 12.0, 10.2, 30.0]], dtype=np.float32)
    out = train_transform(crop_size=(40, 40), scale_range=(1, 1), hflip=0, seed=0)(image, points, degenerate)
    # a zero-size box gets 1 px around its point; a box past the image is clipped to it
    assert out["boxes"].tolist() == [[4.5, 4.5, 5.5, 5.5], [9.5, 12.0, 10.5, 30.0]]


def test_window_first_transform_pickles_and_runs_in_threads():
    # spawn-started DataLoader workers pickle the transform; threads calling one transform never share a buffer
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    points, boxes = _quarter_pixel_heads(rng, 40, 120, 160)
    t = train_transform(crop_size=(96, 128), hflip=1.0, seed=5)
    clone = pickle.loads(pickle.dumps(t))
    a, b = t(image, points, boxes), clone(image, points, boxes)  # the same RNG state: the same sample
    assert all(torch.equal(a[k], b[k]) for k in ("image", "instance_map", "points", "boxes", "head_ids"))

    shared = train_transform(crop_size=(96, 128), scale_range=(1, 1), hflip=1.0, seed=0)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: shared(image, points, boxes)["image"], range(300)))
    patches = np.lib.stride_tricks.sliding_window_view(image, (4, 4, 3))[:25, :33, 0]  # (25, 33, 4, 4, 3)
    for out in outs:  # each is one window of the image, flipped, pixel for pixel: none mixes two threads' samples
        unflipped = out.permute(1, 2, 0).numpy()[:, ::-1]
        (y,), (x,) = np.nonzero((patches == unflipped[:4, :4]).all(axis=(2, 3, 4)))
        assert np.array_equal(unflipped, image[y : y + 96, x : x + 128])


@pytest.mark.parametrize("target_mode", ["after_augmentation", "original"])
def test_cached_heads_give_the_same_samples(target_mode):
    # A dense crowd (many heads fall back to the full neighbour search) and a sparse one: with the per-image cache
    # (checked boxes, neighbour hints) every sample is identical to one made without it.
    rng = np.random.default_rng(11)
    image = rng.integers(0, 255, size=(180, 240, 3), dtype=np.uint8)
    dense, dense_boxes = _quarter_pixel_heads(rng, 900, 180, 240)
    sparse, sparse_boxes = _quarter_pixel_heads(rng, 30, 180, 240)
    for points, boxes in [(dense, dense_boxes), (sparse, sparse_boxes), (sparse, None)]:
        cached = train_transform(crop_size=(96, 128), scale_range=(0.5, 1.5), target_mode=target_mode, seed=4)
        plain = train_transform(crop_size=(96, 128), scale_range=(0.5, 1.5), target_mode=target_mode, seed=4)
        cache: dict = {}
        for _ in range(25):
            a, b = cached(image, points, boxes, cache=cache), plain(image, points, boxes)
            assert all(torch.equal(a[k], b[k]) for k in ("image", "instance_map", "points", "boxes", "head_ids"))
        _, _, _, pts, bxs, hints = cache["heads"]
        assert hints is not None and len(hints.candidates) == len(points)
        a = cached(image, points, boxes, cache=cache)
        assert not any(np.may_share_memory(a[k].numpy(), arr) for k in ("points", "boxes") for arr in (pts, bxs))


def test_cache_follows_the_heads_and_samples_never_share_it():
    rng = np.random.default_rng(12)
    image = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    p1, b1 = _quarter_pixel_heads(rng, 20, 60, 80)
    p2, b2 = _quarter_pixel_heads(rng, 25, 60, 80)
    cache: dict = {}
    t = eval_transform()
    first = t(image, p1, b1, cache=cache)
    first["points"][0] = -1.0  # samples are the caller's to modify: the cache and the inputs stay as they were
    assert np.array_equal(cache["heads"][3], p1) and first["points"].shape == (20, 2)
    again = t(image, p1, b1, cache=cache)
    assert np.array_equal(again["points"].numpy(), p1)
    other = t(image, p2, b2, cache=cache)  # other heads: the cache is made again for them
    assert np.array_equal(other["points"].numpy(), p2) and cache["heads"][0] is p2
    assert cache["heads"][5] is None  # evaluation keeps no hints (each image is seen once per pass)
    assert other["instance_map"].equal(torch.from_numpy(boxes_to_instance_map(b2, 60, 80).view(np.uint8))[None])


def test_dataset_with_and_without_the_head_cache():
    records = SyntheticSource(train=3, val=1, test=1, height=96, width=128, seed=2).read("train")
    with_cache = CrowdDataset(records, train_transform(crop_size=(64, 64), seed=3))
    without = CrowdDataset(records, train_transform(crop_size=(64, 64), seed=3), cache_heads=False)
    for _ in range(3):
        for i in range(len(records)):
            a, b = with_cache[i], without[i]
            assert all(torch.equal(a[k], b[k]) for k in ("image", "instance_map", "points", "boxes", "head_ids"))
    assert len(with_cache._heads) == len(records) and not without._heads
    source = SyntheticSource(train=2, val=1, test=1, height=64, width=64, seed=2)
    dm = CrowdDataModule(source, train_transform(crop_size=(32, 32)), eval_transform(), cache_heads=False)
    assert dm.dataset("train").cache_heads is False and dm.dataset("val").cache_heads is False
