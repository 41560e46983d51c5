"""Training-step time with channels-last batches (what the data pipeline produces) beside contiguous NCHW batches.

The data pipeline keeps each image's pixels interleaved (``(3, H, W)`` views of ``(H, W, 3)`` memory) and
``collate_crowd`` stacks them into a ``torch.channels_last`` batch; before, samples were transposed to contiguous
``(3, H, W)``. This script times one full training step (normalise, forward, IIM loss, backward, Adam step) of the same
network on the same batch in both layouts, alternating the two step by step, and prints the medians and the ratio.
Shapes: the demo's batch (8 x 224 x 224) and the CPU recipe's (``shhb_lite0_cpu``: 4 x 384 x 512), EfficientNet-Lite0
+ PBM.

    python benchmarks/bench_layout.py [--steps 6] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from iim.losses import IIMLoss
from iim.models import build_network
from iim.ops import normalize_image

SHAPES = {"demo (8 x 224 x 224)": (8, 224, 224), "shhb_lite0_cpu (4 x 384 x 512)": (4, 384, 512)}


def _step(net: torch.nn.Module, loss_fn: IIMLoss, opt: torch.optim.Optimizer, image: torch.Tensor, target) -> float:
    """One training step on a uint8 batch; returns its wall time."""
    t0 = time.perf_counter()
    out = net(normalize_image(image, (0.5,) * 3, (0.5,) * 3))
    loss = loss_fn(out, target)["loss"]
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per layout (after one warm-up step each)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# bench_layout: EfficientNet-Lite0 + PBM training steps, torch threads {torch.get_num_threads()}, medians")
    print(f"{'batch':<34}{'contiguous s':>14}{'channels_last s':>17}{'speed-up':>10}")
    for name, (b, h, w) in SHAPES.items():
        torch.manual_seed(0)
        net = build_network("efficientnet_lite0", "pbm")
        loss_fn = IIMLoss()
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        pixels = torch.randint(0, 255, (b, h, w, 3), dtype=torch.uint8)
        batches = {
            "contiguous": pixels.permute(0, 3, 1, 2).contiguous(),
            "channels_last": pixels.permute(0, 3, 1, 2),  # (B, 3, H, W) over (B, H, W, 3): what collate_crowd gives
        }
        target = (torch.rand(b, 1, h, w) > 0.9).float()

        times: dict[str, list[float]] = {k: [] for k in batches}
        for k in batches:
            _step(net, loss_fn, opt, batches[k], target)  # warm-up
        for i in range(args.steps):
            for k in batches if i % 2 == 0 else reversed(list(batches)):
                times[k].append(_step(net, loss_fn, opt, batches[k], target))
        c, cl = statistics.median(times["contiguous"]), statistics.median(times["channels_last"])
        print(f"{name:<34}{c:>14.3f}{cl:>17.3f}{c / cl:>9.2f}x")


if __name__ == "__main__":
    main()
