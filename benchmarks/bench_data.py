"""Data pipeline speed of one DataLoader worker: full training samples beside decoding alone, on two inputs.

- **Part A**: real ShanghaiTech Part A training images (``--root``; about 1024 x 768, 400 heads on average), the
  ``data=shha`` training pipeline of ``conf/`` (random scale 0.8-1.2, horizontal flip, instance map, pad and crop
  512 x 1024);
- **NWPU-sized**: synthetic 2048 x 3072 JPEGs (``iim.data.write_synthetic_dataset``, written to a temporary folder)
  with the ``data=nwpu`` pipeline (the same transforms, crops of 512 x 1024).

For each it times, over the same images: *decode only* (:func:`iim.io.load_image`) and the *full sample*
(``CrowdDataset[i]``: decode, head boxes, the albumentations Compose, the instance map, pad and crop, uint8
tensors). One process, torch and OpenCV on one thread each, as one worker on one core. After a warm-up pass (numba
compilation; the head boxes estimated once per image), ``--rounds`` rounds of a decode pass and a full pass; an
image's time is its fastest round (the machine is shared: other load only ever adds time).

Targets: at least 150 samples/s on Part A and 10 samples/s on NWPU-sized images. The ratio to decoding is printed
for information.

    python benchmarks/bench_data.py [--root ../shared/data/shanghaitech/part_A] [--images 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2
import numpy as np
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from iim.data import CrowdDataset, CrowdRecord, get_reader, write_synthetic_dataset
from iim.io import load_image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared")) / "data/shanghaitech/part_A"
TARGETS = {"Part A": 150.0, "NWPU-sized": 10.0}
# The README's override for large images: the scale and crop in one transform that resamples only the crop's window
WINDOW_FIRST = [
    "data.train_transform.geometric=[{_target_: iim.data.RandomScaleCrop, size: [512, 1024], "
    "scale_range: [0.8, 1.2], mean: ${data.mean}}, {_target_: albumentations.HorizontalFlip, p: 0.5}]",
    "data.train_transform.crop_size=null",
]


def _per_image(fn: Callable[[int], Any], n: int) -> np.ndarray:
    """Seconds of each call ``fn(0) .. fn(n - 1)``."""
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t0
    return out


def train_transform(data: str, window_first: bool = False) -> Any:
    """The training pipeline of ``conf/data/<data>.yaml``, as ``iim-train data=<data>`` builds it (seed 0); with
    ``window_first``, as the README's ``RandomScaleCrop`` override builds it."""
    overrides = [f"data={data}", "seed=0"]
    if window_first:
        overrides += WINDOW_FIRST
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return instantiate(cfg.data.train_transform)


def measure(label: str, records: list[CrowdRecord], data: str, rounds: int) -> None:
    """Samples/s of decoding and of full samples (default pipeline, and window first) over ``records``."""
    datasets = {
        "full sample, default (RandomScale)": CrowdDataset(records, train_transform(data)),
        "full sample, RandomScaleCrop override": CrowdDataset(records, train_transform(data, window_first=True)),
    }
    n = len(records)
    for dataset in datasets.values():
        _per_image(dataset.__getitem__, n)  # warm-up
    decode = np.empty((rounds, n))
    full = {name: np.empty((rounds, n)) for name in datasets}
    for r in range(rounds):
        decode[r] = _per_image(lambda i: load_image(records[i].image_path), n)
        for name, dataset in datasets.items():
            dataset.transform.set_random_seed(r)
            full[name][r] = _per_image(dataset.__getitem__, n)
    t_decode = decode.min(axis=0).mean()
    heads = sum(rec.count for rec in records) / n
    size = f"{records[0].height}x{records[0].width}"
    print(f"\n{label}: {n} images of {size} (mean {heads:.0f} heads), data={data}, crops 512x1024")
    print(f"  {'decode only (baseline)':<40}{1 / t_decode:>9.1f} samples/s {1000 * t_decode:>8.2f} ms")
    for name, times in full.items():
        t_full = times.min(axis=0).mean()
        verdict = "met" if 1 / t_full >= TARGETS[label] else "NOT met"
        print(
            f"  {name:<40}{1 / t_full:>9.1f} samples/s {1000 * t_full:>8.2f} ms   ratio to decode "
            f"{t_full / t_decode:.2f}x   target >= {TARGETS[label]:.0f}/s: {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="ShanghaiTech part_A folder")
    parser.add_argument("--images", type=int, default=100, help="how many Part A training images (the first N)")
    parser.add_argument("--nwpu-images", type=int, default=12, help="how many NWPU-sized synthetic images")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (decode pass, full pass)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print(
        "# bench_data: one process (one DataLoader worker), torch and OpenCV threads 1; fastest of "
        f"{args.rounds} rounds per image after a warm-up pass"
    )
    if args.root.is_dir():
        records = get_reader("shanghaitech", args.root).read("trainval")[: args.images]
        measure("Part A", records, "shha", args.rounds)
    else:
        print(f"\nPart A: skipped, {args.root} not found (pass --root or set IIM_SHARED_DIR)")
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_dataset(
            Path(tmp) / "nwpu_sized",
            {"train": args.nwpu_images},
            image_format="jpg",
            height=2048,
            width=3072,
            max_heads=1000,
            head_size=(16, 64),
        )
        records = get_reader("custom", root).read("train")
        measure("NWPU-sized", records, "nwpu", args.rounds)


if __name__ == "__main__":
    main()
