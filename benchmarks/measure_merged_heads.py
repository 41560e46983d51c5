"""How many heads lose their independence in the instance maps of real ShanghaiTech training images.

For every training image of ShanghaiTech Part A (and Part B), head boxes come from
:func:`iim.targets.points_to_boxes` (the points of ``GT_IMG_n.mat`` minus 1, 0-based) and the instance map from
:func:`iim.targets.boxes_to_instance_map` (half-size cap 25), once per mode. The map's 4-connected components are
labelled with ``cv2.connectedComponents``; for each head the component under its centre pixel (the truncated box
centre, the rectangle's centre) is looked up:

- *merged*: the head's centre lies in a component that holds another head's centre too;
- *not fg*: the head's centre pixel is background (the head was dropped or shrunk away from its centre);
- *dropped*: the head paints nothing (``instance_layout(...).kept`` is False: centre on row/column 0 or outside the
  image; in ``"separate"`` mode also the smaller of two heads whose centre pixels coincide or are 8-adjacent). A dropped
  head whose centre falls inside a neighbour's rectangle counts as *merged* above, together with that neighbour;
- *kept merged*: kept heads whose component holds another kept head's centre (0 by construction in ``"separate"``).

Images are used as stored (x1) and, with ``--scales 1 2``, also upsampled x2 as the original did for ShanghaiTech
(points and image size times 2; no pixels are read).

    python benchmarks/measure_merged_heads.py [--parts A B] [--scales 1 2] [--max-half-size 25]

The data are read in place from ``$IIM_SHARED_DIR/data/shanghaitech`` (default ``../shared`` beside the repository).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from PIL import Image

from iim.targets import boxes_to_instance_map, instance_layout, points_to_boxes

MODES = ("original", "separate")


def shared_dir() -> Path:
    return Path(os.environ.get("IIM_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))


def load_part(part: str) -> list[tuple[str, np.ndarray, int, int]]:
    """(name, 0-based points, height, width) of every training image of ShanghaiTech ``part``."""
    root = shared_dir() / "data" / "shanghaitech" / f"part_{part}" / "train_data"
    out = []
    for mat in sorted((root / "ground-truth").glob("GT_IMG_*.mat")):
        name = mat.stem[3:]
        points = scipy.io.loadmat(mat)["image_info"][0, 0][0, 0][0].astype(np.float64) - 1.0
        with Image.open(root / "images" / f"{name}.jpg") as im:
            width, height = im.size
        out.append((name, points, height, width))
    return out


def count_heads(labels: np.ndarray, centers: np.ndarray) -> tuple[int, int]:
    """(merged, not_fg): heads sharing a 4-connected component with another head, heads on background."""
    h, w = labels.shape
    x, y = centers[:, 0], centers[:, 1]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    lab = np.zeros(len(centers), dtype=np.int64)
    lab[inside] = labels[y[inside], x[inside]]
    per_component = np.bincount(lab, minlength=1)
    merged = (lab > 0) & (per_component[lab] >= 2)
    return int(merged.sum()), int((lab == 0).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["A", "B"], choices=["A", "B"])
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--max-half-size", type=int, default=25)
    args = parser.parse_args()

    if not (shared_dir() / "data" / "shanghaitech").is_dir():
        print(f"SKIP: ShanghaiTech not found under {shared_dir() / 'data'} (set IIM_SHARED_DIR)")
        return 0
    print(f"boxes: points_to_boxes defaults; instance maps: max_half_size={args.max_half_size}; 4-connectivity")
    header = (
        f"{'dataset':<8}{'scale':>6}{'images':>7}{'heads':>8}  {'mode':<9}{'merged':>8}{'%':>8}{'not fg':>8}{'%':>7}"
        f"{'dropped':>8}{'%':>7}{'kept merged':>12}"
    )
    print(header)
    print("-" * len(header))
    t0 = time.perf_counter()
    for part in args.parts:
        images = load_part(part)
        if not images:
            print(f"SKIP: no images in part_{part}")
            continue
        for scale in args.scales:
            totals = {m: np.zeros(4, dtype=np.int64) for m in MODES}
            heads = 0
            for _, points, height, width in images:
                h, w = height * scale, width * scale
                boxes = points_to_boxes(points * scale, h, w)
                heads += len(boxes)
                for mode in MODES:
                    layout = instance_layout(boxes, h, w, args.max_half_size, mode=mode)
                    mask = boxes_to_instance_map(boxes, h, w, args.max_half_size, mode=mode)
                    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
                    merged, not_fg = count_heads(labels, layout.centers)
                    kept_merged, _ = count_heads(labels, layout.centers[layout.kept])
                    totals[mode] += (merged, not_fg, int((~layout.kept).sum()), kept_merged)
            for mode in MODES:
                merged, not_fg, dropped, kept_merged = totals[mode].tolist()
                print(
                    f"{'SHT ' + part:<8}{'x' + str(scale):>6}{len(images):>7}{heads:>8}  {mode:<9}"
                    f"{merged:>8}{100 * merged / heads:>7.2f}%{not_fg:>8}{100 * not_fg / heads:>6.2f}%"
                    f"{dropped:>8}{100 * dropped / heads:>6.2f}%{kept_merged:>12}"
                )
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
