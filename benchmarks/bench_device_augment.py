"""What the device augmentation (kornia, ``data/augment=device``) adds to a CPU training step of the demo network.

Both sides run the same step of the demo's network (EfficientNet-Lite0 + FPN + PBM, random init): normalise the
uint8 batch, forward, ``IIMLoss``, backward, two Adam steps. The augmented side first passes the batch through the
datamodule's :class:`~iim.data.DeviceAugmentation`, built from the ``data/augment=device`` preset (ColorJiggle,
RandomGaussianBlur, RandomGrayscale, RandomGamma, RandomGaussianNoise), exactly as ``on_after_batch_transfer`` does
in training. The batches are the demo's own (random crops of synthetic scenes), collated once and reused. The two
sides alternate step by step so that both see the same machine load; the first ``--warmup`` steps of each are left
out. Reported: median step times, the augmentation alone, and the overhead (median augmented / median plain - 1).
Each module is also timed alone on the batch (kornia applies a module to the whole batch and blends by ``p``, so
its cost does not depend on ``p``). Target: at most 5 %.

    python benchmarks/bench_device_augment.py [--steps 20] [--warmup 3] [--batch-size 8] [--crop 224] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from iim.ops import normalize_image

TARGET = 0.05


def _config(args: argparse.Namespace) -> Any:
    overrides = [
        "data/augment=device",
        f"data.source.train={args.batch_size * args.distinct_batches}",
        f"data.train_transform.crop_size=[{args.crop},{args.crop}]",
        f"data.batch_size={args.batch_size}",
        "data.num_workers=0",
    ]
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each side (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps of each side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=224, help="square training crop")
    parser.add_argument("--distinct-batches", type=int, default=4, help="pre-collated batches, reused in turn")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = _config(args)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    batches = []
    for batch in dm.train_dataloader():
        batches.append(batch)
        if len(batches) == args.distinct_batches:
            break
    augment = dm.device_augment
    task = instantiate(cfg.model)
    net, loss_fn = task.net.train(), task.loss
    params = {"confidence": net.confidence_parameters(), "threshold": net.threshold_parameters()}
    optimizers = [task.optimizer_factories[name](p) for name, p in params.items() if p]

    def step(batch: dict[str, Any]) -> None:
        out = net(normalize_image(batch["image"], task.mean, task.std))
        losses = loss_fn(out, batch["instance_map"].to(out.confidence.dtype))
        for opt in optimizers:
            opt.zero_grad()
        losses["loss"].backward()
        for opt in optimizers:
            opt.step()

    plain, augmented, alone = [], [], []
    for i in range(args.warmup + args.steps):
        batch = batches[i % len(batches)]
        p0 = time.perf_counter()
        step(batch)
        a0 = time.perf_counter()
        moved = augment(batch)
        a1 = time.perf_counter()
        step(moved)
        a2 = time.perf_counter()
        if i >= args.warmup:
            plain.append(a0 - p0)
            augmented.append(a2 - a0)
            alone.append(a1 - a0)

    overhead = statistics.median(augmented) / statistics.median(plain) - 1.0
    # each module alone on the float batch: kornia runs a module on the whole batch and blends by its p, so a
    # module costs the same whatever its p
    image = batches[0]["image"].float().div(255.0)
    per_module = {}
    for t in augment.transforms:
        times = []
        for _ in range(args.warmup + 10):
            t0 = time.perf_counter()
            t(image)
            times.append(time.perf_counter() - t0)
        per_module[type(t).__name__] = statistics.median(times[args.warmup :])
    names = [type(t).__name__ for t in augment.transforms]
    print(
        f"bench_device_augment: demo network, batch {args.batch_size} x 3 x {args.crop} x {args.crop}, "
        f"{args.warmup} warm-up + {args.steps} timed steps each, alternating"
    )
    print(f"device augmentation (data/augment=device): {names}")
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(f"{'per training step (CPU)':<40}{'median ms':>12}{'mean ms':>12}")
    for label, times in (
        ("plain step", plain),
        ("device augmentation + step", augmented),
        ("augmentation alone", alone),
    ):
        print(f"{label:<40}{statistics.median(times) * 1e3:>12.1f}{statistics.mean(times) * 1e3:>12.1f}")
    for name, seconds in per_module.items():
        print(f"{'  of which ' + name + ' alone':<40}{seconds * 1e3:>12.1f}")
    print()
    verdict = "met" if overhead <= TARGET else "NOT met"
    print(f"overhead (median / median - 1): {overhead * 100:+.1f} %  (target <= {TARGET * 100:.0f} %: {verdict})")


if __name__ == "__main__":
    main()
