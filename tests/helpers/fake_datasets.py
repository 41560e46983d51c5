"""Write tiny fake datasets in every supported on-disk layout (seeded; 3-4 small images each).

Every writer returns the expected content: ``{split: {image_id: (points_0based (N, 2), boxes or None)}}`` so tests
can read the dataset back and compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from scipy.io import savemat

H, W = 48, 64


def _image(path: Path, rng: np.random.Generator, gray: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = rng.integers(0, 255, size=(H, W) if gray else (H, W, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)


def _heads(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    pts = np.stack([rng.uniform(4, W - 5, n), rng.uniform(4, H - 5, n)], axis=1).round(2)
    half = rng.uniform(1.5, 4, size=(n, 1)).round(2)
    return pts, np.concatenate([pts - half, pts + half], axis=1)


def write_shanghaitech(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {}
    for split, n_images in (("train", 4), ("test", 2)):
        expected[split] = {}
        for i in range(1, n_images + 1):
            _image(root / f"{split}_data" / "images" / f"IMG_{i}.jpg", rng, gray=(i == 2))
            pts, _ = _heads(rng, i + 1)
            info = np.empty((1, 1), dtype=object)
            info[0, 0] = {"location": pts + 1.0, "number": np.array([[len(pts)]], dtype=np.float64)}
            gt = root / f"{split}_data" / "ground-truth"
            gt.mkdir(parents=True, exist_ok=True)
            savemat(gt / f"GT_IMG_{i}.mat", {"image_info": info})
            expected[split][f"IMG_{i}"] = (pts, None)
    return expected


def write_qnrf(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        expected[split] = {}
        for i in range(1, 4):
            name = f"img_{i:04d}"
            _image(root / folder / f"{name}.jpg", rng)
            pts, _ = _heads(rng, i)
            savemat(root / folder / f"{name}_ann.mat", {"annPoints": pts + 1.0})
            expected[split][name] = (pts, None)
    return expected


def write_nwpu(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {"train": {}, "val": {}, "test": {}}
    ids = {"train": ["0001", "0002"], "val": ["3110", "3098"], "test": ["3610"]}
    (root / "jsons").mkdir(parents=True, exist_ok=True)
    for split, split_ids in ids.items():
        lines = []
        for k, image_id in enumerate(split_ids):
            _image(root / "images" / f"{image_id}.jpg", rng)
            if split == "test":
                lines.append(image_id)
                expected[split][image_id] = (np.zeros((0, 2)), None)
                continue
            pts, boxes = _heads(rng, 3 + k)
            data = {"img_id": f"{image_id}.jpg", "human_num": len(pts), "points": pts.tolist(), "boxes": boxes.tolist()}
            (root / "jsons" / f"{image_id}.json").write_text(json.dumps(data))
            lines.append(f"{image_id} {k + 1} 2")
            expected[split][image_id] = (pts, boxes)
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return expected


def write_jhu(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {}
    for split in ("train", "val", "test"):
        expected[split] = {}
        labels = []
        for i in range(2):
            name = f"{i:04d}"
            _image(root / split / "images" / f"{name}.jpg", rng)
            pts, _ = _heads(rng, 2 + i)
            wh = rng.uniform(2, 6, size=(len(pts), 2)).round(1)
            rows = [f"{x} {y} {w} {h} 1 0" for (x, y), (w, h) in zip(pts, wh)]
            (root / split / "gt").mkdir(parents=True, exist_ok=True)
            (root / split / "gt" / f"{name}.txt").write_text("\n".join(rows) + "\n")
            labels.append(f"{name},{len(pts)},1,0,0")
            side = wh.max(axis=1, keepdims=True)
            expected[split][name] = (pts, np.concatenate([pts - side / 2, pts + side / 2], axis=1))
        (root / split / "image_labels.txt").write_text("\n".join(labels) + "\n")
    return expected


def write_fdst(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {"train": {}, "test": {}}
    for split, videos in (("train", ["1", "2", "3"]), ("test", ["4"])):
        for video in videos:
            for frame in ("001", "002"):
                image = root / f"{split}_data" / video / f"{frame}.jpg"
                _image(image, rng)
                _, boxes = _heads(rng, 2)
                regions = [
                    {
                        "shape_attributes": {
                            "name": "rect",
                            "x": float(b[0]),
                            "y": float(b[1]),
                            "width": float(b[2] - b[0]),
                            "height": float(b[3] - b[1]),
                        },
                        "region_attributes": {},
                    }
                    for b in boxes
                ]
                via = {f"{frame}.jpg1234": {"filename": f"{frame}.jpg", "size": 1234, "regions": regions}}
                image.with_suffix(".json").write_text(json.dumps(via))
                expected[split][f"{video}/{frame}"] = ((boxes[:, :2] + boxes[:, 2:]) / 2, boxes)
    return expected


def write_iim(root: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {}
    (root / "jsons").mkdir(parents=True, exist_ok=True)
    for split, split_ids in (("train", ["a1", "a2"]), ("val", ["b1"]), ("test", ["c1"])):
        expected[split] = {}
        for image_id in split_ids:
            _image(root / "images" / f"{image_id}.jpg", rng)
            pts, boxes = _heads(rng, 3)
            data = {"img_id": image_id, "human_num": 3, "points": pts.tolist(), "boxes": boxes.tolist()}
            (root / "jsons" / f"{image_id}.json").write_text(json.dumps(data))
            expected[split][image_id] = (pts, boxes)
        (root / f"{split}.txt").write_text("\n".join(split_ids) + "\n")
    return expected


def write_custom(root: Path, seed: int = 0, with_splits: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    expected: dict = {}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    names = {"train": ["t1", "t2", "neg"], "val": ["v1"], "test": ["x1"]}
    for split, split_names in names.items():
        expected[split] = {}
        for k, name in enumerate(split_names):
            _image(root / "images" / f"{name}.{'png' if k % 2 else 'jpg'}", rng)
            n = 0 if name == "neg" else 2 + k
            pts, boxes = _heads(rng, n)
            if k % 2:  # text annotation with boxes
                rows = [" ".join(f"{v:g}" for v in (*p, *b)) for p, b in zip(pts, boxes)]
                (root / "annotations" / f"{name}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
                expected[split][name] = (pts, boxes)
            else:  # json with points only
                (root / "annotations" / f"{name}.json").write_text(json.dumps({"points": pts.tolist()}))
                expected[split][name] = (pts, None)
        if with_splits:
            (root / f"{split}.txt").write_text("\n".join(split_names) + "\n")
    return expected


WRITERS = {
    "shanghaitech": write_shanghaitech,
    "qnrf": write_qnrf,
    "nwpu": write_nwpu,
    "jhu": write_jhu,
    "fdst": write_fdst,
    "iim": write_iim,
    "custom": write_custom,
}
