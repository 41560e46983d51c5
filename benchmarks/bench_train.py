"""Training throughput: the LocatorTask under a real ``pl.Trainer.fit`` beside a plain PyTorch loop, one run.

Both sides train the same network (the demo's EfficientNet-Lite0 + FPN + PBM, random init by default), the plain one
an identically initialised copy, with the same loss (``IIMLoss``), the same optimizers (two Adams built by the task's
own factories: confidence lr 1e-3 / weight decay 1e-5, threshold lr 1e-4), the same per-step PolyLR schedules, and
the same DataLoader over the same pre-collated synthetic batches (uint8 224x224 crops, instance maps), held in memory
and reused, so that data loading costs next to nothing on either side.

The Trainer runs without validation, logger, checkpointing, progress bar or model summary. The plain loop does per
step what the task does without the framework: normalise the uint8 batch, forward, loss, zero_grad, backward, step
both optimizers, step both schedulers (no guards, no logging).

Measurement: the two sides are interleaved step by step, so that both see the same load on a shared machine: a
callback's ``on_train_batch_end`` runs one plain step; a Lightning step is the time from the end of that plain step to
the next ``on_train_batch_end`` (everything the loop does per batch: fetching, hooks, the task's training_step,
logging), a plain step is timed around the plain step (fetching included). The first ``--warmup`` steps of each are
left out. Reported: median and mean per-step time, images per second (batch / median), minor page faults per step,
and the overhead: median Lightning step / median plain step - 1, and the median of the per-step ratios. Target: at
most 5 %. At the end the two networks' weights are compared (the same work on both sides leaves them equal: 0).

glibc's malloc is first told to keep freed memory (``_keep_freed_memory``; ``--default-malloc`` leaves it alone):
by default each step maps fresh memory for its large activations and pays ~50-80 k page faults, in amounts that
depend on the heap's layout rather than on the code, which moved the ratio by a few percent either way.

On a shared 2-core machine use ``--threads 1`` (or ``OMP_WAIT_POLICY=PASSIVE``): two spinning OpenMP threads next to
another busy process made a step 20x slower.

    python benchmarks/bench_train.py [--steps 25] [--warmup 5] [--batch-size 8] [--crop 224] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import open_dict
from torch.utils.data import DataLoader

from iim.ops import normalize_image
from iim.tasks import LocatorTask, PolyLR


def _config(args: argparse.Namespace) -> Any:
    overrides = [
        f"model/net/predictor={args.predictor}",
        f"model.net.predictor.backbone.pretrained={str(args.pretrained).lower()}",
        f"data.source.train={args.batch_size * args.distinct_batches}",
        f"data.train_transform.crop_size=[{args.crop},{args.crop}]",
        f"data.batch_size={args.batch_size}",
        "data.num_workers=0",
    ]
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = tempfile.mkdtemp(prefix="bench_train_")  # stays empty (no logger, no checkpoints)
    return cfg


def _batches(cfg: Any, distinct: int) -> list[dict[str, Any]]:
    """``distinct`` training batches, collated once by the demo's own datamodule (random crops of synthetic scenes)."""
    dm = instantiate(cfg.data)
    dm.setup("fit")
    batches = []
    for batch in dm.train_dataloader():
        batches.append(batch)
        if len(batches) == distinct:
            break
    return batches


class _Prepared(torch.utils.data.Dataset):
    """``length`` items cycling over pre-collated batches (the same objects, no copies)."""

    def __init__(self, batches: list[dict[str, Any]], length: int) -> None:
        self.batches, self.length = batches, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.batches[index % len(self.batches)]


def _plain_step_fn(
    task: LocatorTask, loader: DataLoader, total_steps: int
) -> tuple[Callable[[], None], torch.nn.Module]:
    """One step of the hand-written loop on a copy of the task's (untrained) network."""
    net = copy.deepcopy(task.net)
    loss_fn = copy.deepcopy(task.loss)
    params = {"confidence": net.confidence_parameters(), "threshold": net.threshold_parameters()}
    optimizers = [task.optimizer_factories[name](p) for name, p in params.items() if p]
    schedulers = [PolyLR(opt, total_steps=total_steps) for opt in optimizers]
    mean, std = task.mean, task.std
    batches = iter(loader)
    net.train()

    def step() -> None:
        batch = next(batches)
        out = net(normalize_image(batch["image"], mean, std))
        losses = loss_fn(out, batch["instance_map"].to(out.confidence.dtype))
        for opt in optimizers:
            opt.zero_grad()
        losses["loss"].backward()
        for opt in optimizers:
            opt.step()
        for scheduler in schedulers:
            scheduler.step()

    return step, net


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class _Interleave(pl.Callback):
    """Run one plain step after every Lightning step; time both and count their page faults (module docstring)."""

    def __init__(self, plain_step: Callable[[], None]) -> None:
        self.plain_step = plain_step
        self.lightning: list[float] = []
        self.plain: list[float] = []
        self.lightning_faults: list[int] = []
        self.plain_faults: list[int] = []
        self._resume, self._resume_faults = 0.0, 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._resume, self._resume_faults = time.perf_counter(), _minor_faults()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        end, faults = time.perf_counter(), _minor_faults()
        self.lightning.append(end - self._resume)
        self.lightning_faults.append(faults - self._resume_faults)
        t0, f0 = time.perf_counter(), _minor_faults()
        self.plain_step()
        self.plain.append(time.perf_counter() - t0)
        self.plain_faults.append(_minor_faults() - f0)
        self._resume, self._resume_faults = time.perf_counter(), _minor_faults()


def _keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (no mmap for large blocks, no trimming of the heap).

    By default every step maps and unmaps its large activation buffers, paying a page fault per 4 KiB touched
    (~150-200 MB a step here); how much of that each side pays depends on the heap's layout, not on the code, and
    made two identical plain loops differ by +-4 % in this benchmark. Returns whether the settings took effect.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
        return bool(
            libc.mallopt(m_mmap_max, 0) and libc.mallopt(m_trim_threshold, 2**31 - 1) and libc.mallopt(m_top_pad, 2**28)
        )
    except (OSError, AttributeError):
        return False


def _row(name: str, times: list[float], faults: list[int], batch_size: int) -> str:
    median, mean = statistics.median(times), statistics.fmean(times)
    return (
        f"{name:<28}{median * 1e3:>12.1f}{mean * 1e3:>12.1f}{batch_size / median:>12.2f}"
        f"{statistics.median(faults):>16.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=25, help="timed steps of each side (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps of each side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=224, help="square training crop")
    parser.add_argument("--distinct-batches", type=int, default=4, help="pre-collated batches, reused in turn")
    parser.add_argument("--predictor", default="efficientnet_lite0")
    parser.add_argument("--pretrained", action="store_true", help="load the backbone's ImageNet weights")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--default-malloc", action="store_true", help="leave glibc's malloc as it is (see _keep_freed_memory)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc = "default"
    if not args.default_malloc:
        malloc = "keeps freed memory" if _keep_freed_memory() else "default (mallopt unavailable)"
    total = args.warmup + args.steps

    cfg = _config(args)
    pl.seed_everything(args.seed, verbose=False)
    batches = _batches(cfg, args.distinct_batches)
    loader = DataLoader(_Prepared(batches, total), batch_size=None, shuffle=False, num_workers=0)
    task = instantiate(cfg.model)
    plain_step, plain_net = _plain_step_fn(task, loader, total_steps=total)
    timer = _Interleave(plain_step)
    trainer = instantiate(
        cfg.trainer,
        max_steps=total,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        callbacks=[timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    t0 = time.perf_counter()
    trainer.fit(task, train_dataloaders=loader)
    fit_wall = time.perf_counter() - t0
    assert trainer.global_step == total and len(timer.plain) == total, (trainer.global_step, len(timer.plain))

    light, plain = timer.lightning[args.warmup :], timer.plain[args.warmup :]
    light_faults, plain_faults = timer.lightning_faults[args.warmup :], timer.plain_faults[args.warmup :]
    overhead = statistics.median(light) / statistics.median(plain) - 1.0
    paired = statistics.median(a / b for a, b in zip(light, plain)) - 1.0
    with torch.no_grad():
        diff = max(float((a - b).abs().max()) for a, b in zip(task.net.parameters(), plain_net.parameters()))
    n_params = sum(p.numel() for p in plain_net.parameters())

    print(
        f"bench_train: {cfg.model.net.predictor.backbone.name} + PBM ({n_params / 1e6:.2f} M parameters, "
        f"pretrained={args.pretrained}), batch {args.batch_size} x 3 x {args.crop} x {args.crop}, "
        f"{args.warmup} warm-up + {args.steps} timed steps each, interleaved"
    )
    print(
        f"torch {torch.__version__}, pytorch_lightning {pl.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} threads, malloc {malloc}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(f"{'per training step':<28}{'median ms':>12}{'mean ms':>12}{'images/s':>12}{'page faults':>16}")
    print(_row("plain PyTorch loop", plain, plain_faults, args.batch_size))
    print(_row("LocatorTask + Trainer.fit", light, light_faults, args.batch_size))
    print()
    verdict = "OK" if overhead <= 0.05 else "ABOVE TARGET"
    print(f"framework overhead (median / median - 1): {overhead * 100:+.1f} %  (target <= 5 %: {verdict})")
    print(f"median of per-step ratios - 1:            {paired * 100:+.1f} %")
    print(f"Trainer.fit wall time ({total} steps, setup and the plain steps inside): {fit_wall:.1f} s")
    print(f"max |weight difference| after {total} steps, task vs plain: {diff:.3g}")
    shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
