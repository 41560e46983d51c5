"""Data pipeline speed on real ShanghaiTech Part A images: full training samples vs decoding alone, one worker.

For the same images in the same run it times (single process, i.e. one DataLoader worker):

- decode only: read and decode the JPEG to an RGB array;
- full sample: decode + head boxes from points + random scale/flip + instance map + pad/crop 512x1024 + normalise
  (``CrowdDataset`` with the default ``train_transform``).

It prints samples per second for both and the overhead ratio. Target: the full sample costs at most 1.5x decoding.

    python benchmarks/bench_data.py [--root ../shared/data/shanghaitech/part_A] [--images 100] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch

from iim.data import CrowdDataset, get_reader, load_image, train_transform

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared")) / "data/shanghaitech/part_A"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="ShanghaiTech part_A folder")
    parser.add_argument("--images", type=int, default=100, help="how many training images (the first N)")
    parser.add_argument("--epochs", type=int, default=2, help="passes over them (after one warm-up pass)")
    args = parser.parse_args()
    if not args.root.is_dir():
        raise SystemExit(f"bench_data: {args.root} not found; pass --root or set IIM_SHARED_DIR")
    torch.set_num_threads(1)
    records = get_reader("shanghaitech", args.root).read("trainval")[: args.images]
    dataset = CrowdDataset(records, train_transform(crop_size=(512, 1024), seed=0))
    heads = sum(r.count for r in records)
    for i in range(min(5, len(dataset))):  # warm-up: numba compilation, caches
        dataset[i]

    t0 = time.perf_counter()
    for _ in range(args.epochs):
        for r in records:
            load_image(r.image_path)
    decode = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(args.epochs):
        for i in range(len(dataset)):
            dataset[i]
    full = time.perf_counter() - t0

    n = args.epochs * len(records)
    print(
        f"# bench_data: {len(records)} ShanghaiTech Part A train images ({heads} heads), {args.epochs} passes, "
        "1 process, torch threads 1"
    )
    print(f"{'pipeline':<44}{'samples/s':>10}{'ms/sample':>11}")
    print(f"{'decode only (baseline)':<44}{n / decode:>10.1f}{1000 * decode / n:>11.2f}")
    print(f"{'decode + augment + instance map + crop':<44}{n / full:>10.1f}{1000 * full / n:>11.2f}")
    print(f"overhead ratio full/decode: {full / decode:.2f}x (target <= 1.50x)")


if __name__ == "__main__":
    main()
