"""Network speed on CPU: each IIM network beside its bare timm backbone, forward and forward+backward, one run.

For every confidence predictor (VGG-16-FPN, HRNet-W48, EfficientNet-Lite0) with the PBM threshold encoder, times at
1x3x512x1024 (the training crop):

- the bare timm backbone (``features_only``, the same levels),
- the whole IIMNet (backbone + neck + head + threshold encoder + binarization),

each for a forward pass (no grad, eval) and a forward+backward pass (train mode, the IIM loss for the network,
the sum of the features for the backbone). The ratio network / backbone shows what the neck, head and binarization
module add. Median of ``--repeats`` runs after one warm-up.

    python benchmarks/bench_network.py [--predictors vgg16_fpn hrnet_w48 efficientnet_lite0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from iim.losses import IIMLoss
from iim.models import build_network


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(predictor: str, threshold: str, shape: tuple[int, int, int, int], repeats: int) -> dict[str, float]:
    net = build_network(predictor, threshold, **{"predictor.backbone.pretrained": False})
    backbone = net.predictor.backbone
    x = torch.randn(*shape)
    target = (torch.rand(shape[0], 1, *shape[2:]) > 0.9).float()
    loss_fn = IIMLoss()

    def backbone_fwd() -> None:
        with torch.no_grad():
            backbone(x)

    def backbone_fwd_bwd() -> None:
        backbone.zero_grad(set_to_none=True)
        sum(f.float().mean() for f in backbone(x)).backward()

    def net_fwd() -> None:
        with torch.no_grad():
            net(x)

    def net_fwd_bwd() -> None:
        net.zero_grad(set_to_none=True)
        loss_fn(net(x), target)["loss"].backward()

    net.eval()
    results = {"backbone_fwd": _median_time(backbone_fwd, repeats), "net_fwd": _median_time(net_fwd, repeats)}
    net.train()
    results["backbone_fwd_bwd"] = _median_time(backbone_fwd_bwd, repeats)
    results["net_fwd_bwd"] = _median_time(net_fwd_bwd, repeats)
    results["params_backbone_m"] = sum(p.numel() for p in backbone.parameters()) / 1e6
    results["params_net_m"] = sum(p.numel() for p in net.parameters()) / 1e6
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictors", nargs="+", default=["vgg16_fpn", "hrnet_w48", "efficientnet_lite0"])
    parser.add_argument("--threshold", default="pbm")
    parser.add_argument("--shape", nargs=4, type=int, default=[1, 3, 512, 1024], metavar=("B", "C", "H", "W"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    print(
        f"# bench_network: input {'x'.join(map(str, shape))}, threshold={args.threshold}, CPU "
        f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
        f"torch {torch.__version__}, median of {args.repeats} after 1 warm-up"
    )
    header = (
        f"{'predictor':<20}{'params M (bb/net)':>19}{'fwd bb s':>10}{'fwd net s':>11}{'ratio':>7}"
        f"{'f+b bb s':>10}{'f+b net s':>11}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for name in args.predictors:
        r = bench(name, args.threshold, shape, args.repeats)
        print(
            f"{name:<20}{r['params_backbone_m']:>9.1f} /{r['params_net_m']:>7.1f}"
            f"{r['backbone_fwd']:>10.3f}{r['net_fwd']:>11.3f}{r['net_fwd'] / r['backbone_fwd']:>7.2f}"
            f"{r['backbone_fwd_bwd']:>10.3f}{r['net_fwd_bwd']:>11.3f}{r['net_fwd_bwd'] / r['backbone_fwd_bwd']:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
