"""The augmentation pipeline and DataModule: transforms from YAML, heads move with the pixels, every head keeps its
own component, the original's target mode, seeding and workers, evaluation, collate, errors, RandomScaleCrop."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from iim.data import (
    CrowdDataModule,
    CrowdDataset,
    CrowdTransform,
    RandomScale,
    RandomScaleCrop,
    SyntheticSource,
    collate_crowd,
    write_synthetic_dataset,
)
from iim.data.readers import get_reader
from iim.data.transforms import _to_chw
from iim.targets import boxes_to_instance_map

MEAN = (0.5, 0.5, 0.5)
SAMPLE_KEYS = ("image", "instance_map", "points", "boxes", "head_ids")

# Each entry is added from YAML, as a user would, after the default geometric list.
YAML_TRANSFORMS = {
    "ColorJitter": "{_target_: albumentations.ColorJitter, brightness: 0.4, contrast: 0.4, saturation: 0.4, p: 1}",
    "GaussianBlur": "{_target_: albumentations.GaussianBlur, blur_limit: [3, 7], p: 1}",
    "ToGray": "{_target_: albumentations.ToGray, p: 1}",
    "Rotate": "{_target_: albumentations.Rotate, limit: 15, p: 1}",
    "Affine": "{_target_: albumentations.Affine, scale: [0.9, 1.1], rotate: [-10, 10], shear: [-5, 5], p: 1}",
    "Perspective": "{_target_: albumentations.Perspective, scale: [0.02, 0.06], p: 1}",
}
PHOTOMETRIC = {"ColorJitter", "GaussianBlur", "ToGray"}


def _transform_from_yaml(extra: str | None = None, crop: tuple[int, int] = (192, 256), seed: int = 0) -> CrowdTransform:
    """A training transform built from YAML with hydra's ``instantiate``, ``extra`` appended to its list."""
    cfg = OmegaConf.create(
        {
            "_target_": "iim.data.CrowdTransform",
            "geometric": [
                {"_target_": "iim.data.RandomScale", "scale_range": [0.8, 1.2]},
                {"_target_": "albumentations.HorizontalFlip", "p": 0.5},
            ],
            "photometric": [],
            "crop_size": list(crop),
            "mean": list(MEAN),
            "seed": seed,
        }
    )
    if extra is not None:
        name = next(k for k, v in YAML_TRANSFORMS.items() if v == extra)
        cfg["photometric" if name in PHOTOMETRIC else "geometric"].append(OmegaConf.create(extra))
    return instantiate(cfg)


def _scene(rng: np.random.Generator, n: int, h: int, w: int, margin: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``n`` heads on a jittered grid (no two boxes overlap): points at the box centres, boxes 8-14 px."""
    side = int(np.ceil(np.sqrt(n * w / h)))
    xs, ys = np.meshgrid(np.linspace(margin + 8, w - margin - 8, side), np.linspace(margin + 8, h - margin - 8, side))
    points = np.stack([xs.ravel(), ys.ravel()], 1)[:n] + rng.uniform(-1, 1, (min(n, side * side), 2))
    half = rng.uniform(4, 7, (len(points), 1))
    boxes = np.concatenate([points - half, points + half], axis=1)
    return points.astype(np.float32), boxes.astype(np.float32)


def _blob_image(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """Black, with a white 5x5 blob under each point: where a blob's pixels go, its point must go too."""
    image = np.zeros((h, w, 3), np.uint8)
    for x, y in np.round(points).astype(int):
        image[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = 255
    return image


def _labels_at(sample: dict) -> tuple[np.ndarray, int]:
    """The 4-connected component label of the instance map under each sample point, and the number of components
    that hold a head or lie inside the crop (a component on the crop's border may belong to a head cut off by it)."""
    mask = sample["instance_map"][0].numpy().astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=4)
    pts = sample["points"].numpy()
    h, w = mask.shape
    rows, cols = np.floor(pts[:, 1]).astype(int).clip(0, h - 1), np.floor(pts[:, 0]).astype(int).clip(0, w - 1)
    under = labels[rows, cols]
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    headless = set(range(1, count)) - set(under.tolist())
    return under, count - 1 - len(headless & set(border.tolist()))


@pytest.mark.parametrize("name", sorted(YAML_TRANSFORMS))
def test_any_albumentations_transform_from_yaml_keeps_heads_separate_and_on_their_pixels(name):
    rng = np.random.default_rng(3)
    h, w = 240, 320
    points, boxes = _scene(rng, 120, h, w)
    image = _blob_image(points, h, w)
    t = _transform_from_yaml(YAML_TRANSFORMS[name], seed=1)
    assert any(type(x).__name__ == name for x in t.geometric + t.photometric)
    checked = 0
    for _ in range(4):
        out = t(image, points, boxes)
        assert out["image"].shape == (3, 192, 256) and out["instance_map"].shape == (1, 192, 256)
        n = len(out["points"])
        assert n == len(out["boxes"]) == len(out["head_ids"]) and n > 20
        # every head in the crop has its own 4-connected component: distinct non-zero labels, one per head, and no
        # component without a head except where the crop cut a head off
        labels, components = _labels_at(out)
        assert (labels > 0).all() and len(np.unique(labels)) == n == components
        # the points moved with the pixels: each lands on (or within a pixel of) its own blob
        bright = out["image"].numpy().max(axis=0) > 60
        grown = cv2.dilate(bright.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        px = np.floor(out["points"].numpy()).astype(int)
        assert grown[px[:, 1].clip(0, 191), px[:, 0].clip(0, 255)].all()
        # and each point lies inside its own (transformed) box
        b = out["boxes"].numpy()
        p = out["points"].numpy()
        assert (
            (b[:, 0] - 1 <= p[:, 0]) & (p[:, 0] <= b[:, 2] + 1) & (b[:, 1] - 1 <= p[:, 1]) & (p[:, 1] <= b[:, 3] + 1)
        ).all()
        checked += n
    assert checked > 100


def test_points_and_boxes_move_with_the_image_under_scale_and_flip():
    rng = np.random.default_rng(0)
    h, w = 600, 900
    yy, xx = np.mgrid[0:h, 0:w]
    coords = np.stack([xx / 4, yy / 4, np.zeros_like(xx)], axis=2).astype(np.uint8)  # red = x / 4, green = y / 4
    points = np.stack([rng.uniform(0, w - 1, 300), rng.uniform(0, h - 1, 300)], axis=1).astype(np.float32)
    boxes = np.concatenate([points - 6, points + 6], axis=1).clip(0, [w, h, w, h]).astype(np.float32)
    t = CrowdTransform([RandomScale((0.8, 1.2)), A.HorizontalFlip(p=0.5)], crop_size=(256, 384), mean=MEAN, seed=3)
    flips = 0
    for _ in range(6):
        out = t(coords, points, boxes)
        image = out["image"].numpy().astype(np.float64)
        assert len(out["points"]) > 0
        for (x, y), box, hid in zip(out["points"].numpy(), out["boxes"].numpy(), out["head_ids"].numpy()):
            px, py = min(int(x), 383), min(int(y), 255)
            ox, oy = points[hid]
            assert abs(image[0, py, px] * 4 - ox) < 8 and abs(image[1, py, px] * 4 - oy) < 8
            assert box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1
            scale = (box[3] - box[1]) / 12
            assert 0.75 < scale < 1.25 or box[1] == 0 or box[3] >= 255  # boxes scale with the image
        flips += int(image[0, :, 0].mean() > image[0, :, -1].mean())  # red (= source x) falls left to right
    assert 0 < flips < 6  # both flipped and unflipped samples were checked


def test_each_head_in_the_crop_has_its_own_component_on_synthetic_crowds():
    source = SyntheticSource(train=6, seed=5, max_heads=150)
    dataset = CrowdDataset(source.read("train"), _transform_from_yaml(crop=(256, 256)))
    checked = 0
    for _ in range(2):
        for i in range(len(dataset)):
            sample = dataset[i]
            if not len(sample["points"]):
                continue
            labels, _ = _labels_at(sample)
            inside = labels > 0
            assert inside.mean() > 0.97  # the rare head dropped by "separate" (centres 8-adjacent) is the exception
            assert len(np.unique(labels[inside])) == inside.sum()  # no two heads share a component
            checked += int(inside.sum())
    assert checked > 200


def test_heads_that_leave_the_image_are_dropped_with_their_boxes():
    h, w = 100, 100
    points = np.array([[10.0, 50.0], [90.0, 50.0]], np.float32)
    boxes = np.array([[5.0, 45.0, 15.0, 55.0], [85.0, 45.0, 95.0, 55.0]], np.float32)
    t = CrowdTransform([A.Affine(translate_px={"x": 30, "y": 0}, p=1)], seed=0)  # moves the right head out
    out = t(np.zeros((h, w, 3), np.uint8), points, boxes)
    assert out["head_ids"].tolist() == [0]
    assert torch.allclose(out["points"], torch.tensor([[40.0, 50.0]]), atol=0.51)
    assert out["boxes"].shape == (1, 4) and abs(float(out["boxes"][0, 0]) - 35.0) < 1
    labels, components = _labels_at(out)
    assert components == 1 and labels.tolist() == [1]


def test_original_target_mode_moves_the_full_size_map_with_the_image():
    rng = np.random.default_rng(1)
    points = rng.uniform(20, 200, size=(40, 2)).astype(np.float32)
    boxes = np.concatenate([points - 5, points + 5], axis=1).astype(np.float32)
    image = rng.integers(0, 255, size=(240, 240, 3), dtype=np.uint8)
    t = CrowdTransform([RandomScale((0.5, 0.5))], crop_size=(240, 240), target_mode="original", seed=0)
    out = t(image, points, boxes)
    full = boxes_to_instance_map(boxes, 240, 240).astype(np.uint8)
    half = cv2.resize(full, (120, 120), interpolation=cv2.INTER_NEAREST)
    assert out["instance_map"].sum() == half.sum()  # the padded crop holds the nearest-resized full-size map
    after = CrowdTransform([RandomScale((0.5, 0.5))], crop_size=(240, 240), seed=0)(image, points, boxes)
    assert after["instance_map"].sum() != out["instance_map"].sum()  # iim's default builds it after scaling


def test_crop_pads_with_the_mean_colour_and_a_zero_map():
    t = CrowdTransform(crop_size=(64, 80), mean=(0.2, 0.4, 0.6), seed=0)
    out = t(np.full((30, 40, 3), 7, np.uint8), np.array([[5.0, 5.0]]), np.array([[1.0, 1.0, 9.0, 9.0]]))
    img = out["image"].permute(1, 2, 0).numpy()
    pad = ~(img == 7).all(axis=2)
    assert pad.sum() == 64 * 80 - 30 * 40 and (img[pad] == (51, 102, 153)).all()
    assert out["instance_map"].sum() > 0 and not out["instance_map"][0].numpy()[pad].any()


def test_same_seed_same_samples_and_reseeding_changes_them():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, size=(200, 300, 3), dtype=np.uint8)
    points, boxes = _scene(rng, 60, 200, 300)
    spec = YAML_TRANSFORMS["Rotate"]
    a, b = _transform_from_yaml(spec, seed=4), _transform_from_yaml(spec, seed=4)
    for _ in range(3):
        x, y = a(image, points, boxes), b(image, points, boxes)
        assert all(torch.equal(x[k], y[k]) for k in SAMPLE_KEYS)
    a.set_random_seed(99)
    b.set_random_seed(100)
    assert not torch.equal(a(image, points, boxes)["image"], b(image, points, boxes)["image"])


def test_eval_transform_keeps_the_whole_image():
    source = SyntheticSource(val=2, seed=1, height=100, width=130)
    dataset = CrowdDataset(source.read("val"), CrowdTransform())
    sample = dataset[0]
    assert sample["image"].shape == (3, 100, 130)
    assert torch.equal(sample["image"].permute(1, 2, 0), torch.from_numpy(dataset.records[0].image))
    assert not np.may_share_memory(sample["image"].numpy(), dataset.records[0].image)  # a copy, not the record
    assert torch.allclose(sample["points"], torch.from_numpy(dataset.records[0].points).float())
    assert sample["meta"]["size"] == (100, 130)


def test_collate_and_shared_memory_batches():
    source = SyntheticSource(train=3, seed=2)
    dataset = CrowdDataset(source.read("train"), CrowdTransform(crop_size=(64, 96), seed=0))
    samples = [dataset[0], dataset[1]]
    batch = collate_crowd(samples)
    assert batch["image"].shape == (2, 3, 64, 96) and batch["instance_map"].shape == (2, 1, 64, 96)
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch["image"], torch.stack([s["image"] for s in samples]))
    assert torch.equal(batch["instance_map"], torch.stack([s["instance_map"] for s in samples]))
    contiguous = [{**s, "image": s["image"].contiguous()} for s in samples]
    assert torch.equal(collate_crowd(contiguous)["image"], batch["image"])  # any layout stacks
    fixed = CrowdDataset(source.read("train"), CrowdTransform())
    loader = torch.utils.data.DataLoader(fixed, batch_size=2, num_workers=1, collate_fn=collate_crowd)
    from_worker = next(iter(loader))  # built in shared memory by the worker
    assert from_worker["image"].is_shared() and from_worker["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(from_worker["image"], collate_crowd([fixed[0], fixed[1]])["image"])
    assert isinstance(batch["points"], list) and len(batch["points"]) == 2
    small = CrowdDataset(SyntheticSource(val=2, seed=1, height=40, width=50).read("val"), CrowdTransform())
    with pytest.raises(ValueError, match="batch_size=1"):
        collate_crowd([dataset[0], small[0]])


def test_bad_configuration_and_bad_heads_are_refused_by_name():
    with pytest.raises(TypeError, match=r"`geometric\[1\]` must be an albumentations transform"):
        CrowdTransform([A.HorizontalFlip(), {"_target_": "albumentations.Rotate"}])
    with pytest.raises(TypeError, match=r"`photometric` must be a list"):
        CrowdTransform(photometric=A.ToGray())
    with pytest.raises(ValueError, match=r"`crop_size` must be \(height, width\)"):
        CrowdTransform(crop_size=(0, 64))
    with pytest.raises(ValueError, match=r"`target_mode` must be one of"):
        CrowdTransform(target_mode="before")
    with pytest.raises(ValueError, match=r"unknown `instance_map` keys \['radius'\]"):
        CrowdTransform(instance_map={"radius": 3})
    with pytest.raises(ValueError, match=r"`scale_range` must be \(low, high\)"):
        RandomScale((1.2, 0.8))
    t = CrowdTransform(crop_size=(32, 32), seed=0)
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    points = np.array([[5.0, 5.0], [10.0, 12.0]], dtype=np.float32)
    boxes = np.array([[1.0, 1.0, 9.0, 9.0], [8.0, np.nan, 12.0, 14.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"head 1 has point .* expected finite"):
        t(image, points, boxes)
    with pytest.raises(ValueError, match=r"head 0 has point \[40.0, 5.0\].*inside the 40x40 image"):
        t(image, np.array([[40.0, 5.0]]), None)
    with pytest.raises(ValueError, match=r"2 points but 1 boxes"):
        t(image, points, boxes[:1])
    with pytest.raises(ValueError, match=r"expected an RGB image \(H, W, 3\)"):
        t(image[:, :, 0], points, boxes)
    degenerate = np.array([[5.0, 5.0, 5.0, 5.0], [10.0, 12.0, 10.2, 50.0]], dtype=np.float32)
    out = CrowdTransform(seed=0)(image, points, degenerate)
    # a zero-size box gets 1 px around its point; a box past the image is clipped to it
    assert out["boxes"].tolist() == [[4.5, 4.5, 5.5, 5.5], [9.5, 12.0, 10.5, 40.0]]


def test_no_heads_and_channels_last_views():
    t = CrowdTransform([RandomScale()], crop_size=(64, 96), seed=0)
    out = t(np.zeros((80, 100, 3), dtype=np.uint8), np.zeros((0, 2), dtype=np.float32))
    assert out["points"].shape == (0, 2) and out["boxes"].shape == (0, 4) and out["head_ids"].shape == (0,)
    assert out["instance_map"].shape == (1, 64, 96) and int(out["instance_map"].sum()) == 0
    image = np.random.default_rng(0).integers(0, 255, size=(7, 5, 3), dtype=np.uint8)
    chw = _to_chw(image)  # a channels-last view of the same memory
    assert chw.shape == (3, 7, 5) and chw.stride() == (1, 15, 3) and chw.data_ptr() == image.ctypes.data
    assert torch.equal(chw, torch.from_numpy(image).permute(2, 0, 1))
    copied = _to_chw(image, source=image)  # never a view of the caller's input
    assert torch.equal(copied, chw) and not np.may_share_memory(copied.numpy(), image)


def test_transform_pickles_for_spawned_workers():
    import pickle

    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    points, boxes = _scene(rng, 40, 120, 160)
    t = _transform_from_yaml(YAML_TRANSFORMS["ColorJitter"], crop=(96, 128), seed=5)
    clone = pickle.loads(pickle.dumps(t))
    a, b = t(image, points, boxes), clone(image, points, boxes)  # the same RNG state: the same sample
    assert all(torch.equal(a[k], b[k]) for k in SAMPLE_KEYS)
    assert "ColorJitter" in repr(t) and "crop_size=(96, 128)" in repr(t)


# ------------------------------------------------------------------------------------------------ RandomScaleCrop
def test_random_scale_crop_in_the_pipeline_keeps_heads_separate():
    rng = np.random.default_rng(6)
    h, w = 400, 600
    points, boxes = _scene(rng, 300, h, w)
    image = _blob_image(points, h, w)
    t = CrowdTransform([RandomScaleCrop((128, 192), mean=MEAN), A.HorizontalFlip(p=0.5)], mean=MEAN, seed=2)
    for _ in range(5):
        out = t(image, points, boxes)
        assert out["image"].shape == (3, 128, 192)
        labels, components = _labels_at(out)
        assert (labels > 0).all() and len(np.unique(labels)) == len(labels) == components


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
    assert RandomScaleCrop((8, 8), mean=(0.2, 0.4, 0.6)).fill == pytest.approx((51.0, 102.0, 153.0))
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


# ------------------------------------------------------------------------------------------------ DataModule
def _train_points(dm: CrowdDataModule) -> list[torch.Tensor]:
    return [p.clone() for batch in dm.train_dataloader() for p in batch["points"]]


def test_datamodule_workers_differ_and_runs_repeat():
    def make(num_workers: int) -> CrowdDataModule:
        return CrowdDataModule(
            SyntheticSource(train=8, val=2, seed=3, height=96, width=128),
            _transform_from_yaml(crop=(64, 64)),
            CrowdTransform(),
            batch_size=1,
            num_workers=num_workers,
            seed=11,
        )

    run1, run2 = _train_points(make(2)), _train_points(make(2))
    assert len(run1) == 8 and all(torch.equal(a, b) for a, b in zip(run1, run2))
    # the same scene drawn by two workers gets different crops: a one-image dataset through 2 workers
    dm = CrowdDataModule(
        SyntheticSource(train=1, seed=3, height=96, width=128),
        _transform_from_yaml(crop=(32, 32)),
        CrowdTransform(),
        batch_size=1,
        num_workers=2,
        samples_per_epoch=8,
    )
    images = [b["image"] for b in dm.train_dataloader()]
    worker0, worker1 = images[0::2], images[1::2]
    assert not all(torch.equal(a, b) for a, b in zip(worker0, worker1))


def test_datamodule_over_a_dataset_on_disk(tmp_path):
    write_synthetic_dataset(tmp_path / "synth", {"train": 4, "val": 2}, height=64, width=80)
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_dataset(tmp_path / "synth", {"train": 1})
    dm = CrowdDataModule(
        get_reader("custom", tmp_path / "synth"), CrowdTransform(crop_size=(48, 48)), CrowdTransform(), batch_size=2
    )
    dm.setup("fit")
    train = next(iter(dm.train_dataloader()))
    assert train["image"].shape == (2, 3, 48, 48)
    val = list(dm.val_dataloader())
    assert len(val) == 2 and val[0]["image"].shape == (1, 3, 64, 80)
