"""Predictor overhead on the CPU: time per image of ``Predictor.predict`` beside the bare network forward.

For a 1024x768 and a 1920x1080 image it times, in the same run and on the same input:

- bare forward: ``net(x)`` on the already normalised float tensor, laid out as the Predictor lays it out
  (``channels_last``; the network's own padding included);
- Predictor: ``predictor.predict(rgb_uint8)``: uint8 -> tensor, normalisation, tiled inference (one padded pass for
  images that fit, as the Predictor does by default), ``confidence >= threshold``, 4-connected components, points
  and boxes.

The overhead ratio is ``predictor / bare - 1`` (target at most 10 %). Each round times one call of each, in
alternating order, so both see the same load; the ratio compares the fastest call of each side (the least disturbed
by other work on a shared machine; the medians are printed too). The network is the demo's (EfficientNet-Lite0 +
PBM); the images are real ShanghaiTech Part B pixels (resized for 1920x1080) when ``../shared`` is present, else a
synthetic crowd.

    python benchmarks/bench_predict.py [--rounds 8] [--predictor efficientnet_lite0] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2
import numpy as np
import torch

from iim.inference import Predictor
from iim.models import build_network
from iim.ops import normalize_image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared"))
SIZES = ((768, 1024), (1080, 1920))


def _image(height: int, width: int) -> tuple[np.ndarray, str]:
    path = SHARED / "data/shanghaitech/part_B/train_data/images/IMG_1.jpg"
    if path.is_file():
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)), "Part B IMG_1"
    from iim.data.synthetic import SyntheticSource

    return SyntheticSource(test=1, seed=0, height=height, width=width).read("test")[0].image, "synthetic crowd"


def _time(fn, repeats: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--predictor", default="efficientnet_lite0", help="confidence predictor config name")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = build_network(args.predictor, "pbm").eval()
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    predictor = Predictor(net, mean, std, device="cpu")
    print(
        f"# bench_predict: {args.predictor} + PBM on the CPU, torch threads {torch.get_num_threads()}, "
        f"{args.rounds} rounds of one call per side, alternating; fastest call (median)"
    )
    print(f"{'image':<12}{'source':<18}{'bare s (median)':>17}{'Predictor s (median)':>21}{'heads':>7}{'overhead':>10}")
    for height, width in SIZES:
        rgb, source = _image(height, width)
        # the tensor the Predictor builds: (1, 3, H, W) over the (1, H, W, 3) pixels, i.e. channels_last
        x = normalize_image(torch.from_numpy(rgb[None]).permute(0, 3, 1, 2), mean, std)

        def bare(x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                net(x)

        def full(rgb: np.ndarray = rgb) -> None:
            predictor.predict(rgb)

        bare()
        full()  # warm-up (allocator, kernels)
        t_bare, t_full = [], []
        for r in range(args.rounds):
            for side in ("bare", "full") if r % 2 == 0 else ("full", "bare"):
                (t_bare if side == "bare" else t_full).append(_time(bare if side == "bare" else full, 1))
        b, f = min(t_bare), min(t_full)
        mb, mf = statistics.median(t_bare), statistics.median(t_full)
        heads = predictor.predict(rgb).count
        print(
            f"{width}x{height:<7}{source:<18}{b:>9.3f} ({mb:.3f}){f:>9.3f} ({mf:.3f}){heads:>7}"
            f"{100 * (f / b - 1):>9.1f}%"
        )
    print("target: overhead (post-processing and stitching) at most 10 %")


if __name__ == "__main__":
    main()
