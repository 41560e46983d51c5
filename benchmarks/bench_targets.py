"""Instance-map speed on the densest ShanghaiTech Part A training image: iim beside a plain Python loop.

The plain loop follows the original ``generate_masks`` step by step: for each head a full distance vector and an
``np.argsort`` over it, then the greedy shrink and the painting in Python scalars
(``tests/helpers/reference_instance_map.py``, the tests' reference). iim uses a KD-tree for the neighbours and
numba kernels for the shrink and the painting; its time excludes numba's compilation (one warm-up call first;
with ``cache=True`` a later process loads the compiled code from disk). Both build the ``mode="original"`` map;
the pixels that differ are counted (the target is 0). The loop is run with ``argsort(kind="stable")`` (ties
broken by index, as iim does) and, for information, with numpy's default sort kind, whose order among equal
distances is unspecified.

Head boxes come from :func:`iim.targets.points_to_boxes` (defaults), half-size cap 25.

    python benchmarks/bench_targets.py [--repeats 5] [--scale 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from iim.targets import boxes_to_instance_map, points_to_boxes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.reference_instance_map import reference_instance_map


def shared_dir() -> Path:
    return Path(os.environ.get("IIM_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))


def densest_part_a_image() -> tuple[str, np.ndarray, int, int] | None:
    """(name, 0-based points, height, width) of the Part A training image with the most heads, or None."""
    root = shared_dir() / "data" / "shanghaitech" / "part_A" / "train_data"
    best: tuple[str, np.ndarray] | None = None
    for mat in sorted((root / "ground-truth").glob("GT_IMG_*.mat")):
        points = scipy.io.loadmat(mat)["image_info"][0, 0][0, 0][0].astype(np.float64) - 1.0
        if best is None or len(points) > len(best[1]):
            best = (mat.stem[3:], points)
    if best is None:
        return None
    with Image.open(root / "images" / f"{best[0]}.jpg") as im:
        width, height = im.size
    return best[0], best[1], height, width


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of iim (median); the loop runs once")
    parser.add_argument("--scale", type=int, default=1, help="upsample points and image size (2 as the original)")
    args = parser.parse_args()

    found = densest_part_a_image()
    if found is None:
        print(f"SKIP: ShanghaiTech Part A not found under {shared_dir() / 'data'} (set IIM_SHARED_DIR)")
        return 0
    name, points, height, width = found
    h, w = height * args.scale, width * args.scale
    boxes = points_to_boxes(points * args.scale, h, w)
    print(f"{name}: {len(boxes)} heads, {w}x{h} (x{args.scale}), max_half_size=25, mode='original'")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPU(s)")

    t0 = time.perf_counter()
    fast = boxes_to_instance_map(boxes, h, w, mode="original")  # warm-up: compiles or loads the numba kernels
    first = time.perf_counter() - t0
    t_fast = median_time(lambda: boxes_to_instance_map(boxes, h, w, mode="original"), args.repeats)
    t_sep = median_time(lambda: boxes_to_instance_map(boxes, h, w, mode="separate"), args.repeats)

    t0 = time.perf_counter()
    ref = reference_instance_map(boxes, h, w, argsort_kind="stable")
    t_ref = time.perf_counter() - t0
    ref_default = reference_instance_map(boxes, h, w, argsort_kind="quicksort")

    print(f"iim first call (numba compile or cache load, not counted): {1e3 * first:9.1f} ms")
    print(f"iim boxes_to_instance_map, mode='original' (median of {args.repeats}): {1e3 * t_fast:9.2f} ms")
    print(f"iim boxes_to_instance_map, mode='separate' (median of {args.repeats}): {1e3 * t_sep:9.2f} ms")
    print(f"plain Python loop, argsort per head (1 run):              {1e3 * t_ref:9.1f} ms")
    print(f"speed-up (loop / iim original):                           {t_ref / t_fast:9.1f}x")
    print(f"differing pixels vs the loop, stable argsort:             {int((fast != ref).sum()):9d}")
    print(f"differing pixels vs the loop, numpy's default argsort:    {int((fast != ref_default).sum()):9d}")
    print(f"foreground pixels: {int(fast.sum())} of {fast.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
