"""CrowdDataModule: train/val/test/predict loaders over any dataset reader or the synthetic crowds."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, RandomSampler

from iim.data.collate import collate_crowd
from iim.data.dataset import CrowdDataset
from iim.data.device_augment import DeviceAugmentation
from iim.data.records import CrowdRecord
from iim.data.transforms import CrowdTransform
from iim.ops import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["CrowdDataModule", "RecordSource", "seed_worker"]


class RecordSource(Protocol):
    """Anything that serves records by split: every dataset reader, and :class:`~iim.data.synthetic.SyntheticSource`."""

    def read(self, split: str) -> list[CrowdRecord]: ...


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: reseed numpy, ``random`` and the dataset's augmentation from the worker's torch seed.

    Without it a seeded albumentations pipeline repeats the same augmentations in every worker; with it workers
    differ, and runs repeat exactly when the DataLoader has a seeded generator.
    """
    info = torch.utils.data.get_worker_info()
    seed = (info.seed if info is not None else torch.initial_seed()) % 2**32
    np.random.seed(seed)
    random.seed(seed)
    dataset = info.dataset if info is not None else None
    transform = getattr(dataset, "transform", None)
    if isinstance(transform, CrowdTransform):
        transform.set_random_seed(seed)


class CrowdDataModule(pl.LightningDataModule):
    """Loaders for training (random crops, batched), validation and test (whole images, one at a time) and predict.

    Args:
        source: Serves the records of each split: a dataset reader or a synthetic source, or a factory of one
            (``_partial_: true`` in config) that is called with ``root`` -- so that ``data.root=...`` is the one key
            to set.
        root: The dataset's root folder, passed to a ``source`` factory.
        mean: The dataset's RGB mean in [0, 1] (the task normalises batches with it on the device).
        std: The dataset's RGB standard deviation.
        train_transform: Pipeline of training samples (a :class:`~iim.data.transforms.CrowdTransform` with its
            augmentation lists and a crop).
        eval_transform: Pipeline of validation/test/predict samples (a :class:`~iim.data.transforms.CrowdTransform`
            without augmentation or crop: whole images).
        batch_size: Training batch size (6 for most datasets in the original, 12 for NWPU).
        eval_batch_size: Batch size of the whole-image loaders (1: images differ in size).
        num_workers: DataLoader workers.
        splits: Which split of ``source`` each stage uses (``train``, ``val``, ``test``, ``predict``).
        seed: Seed of the shuffling and of the augmentation (each worker derives its own).
        samples_per_epoch: If set, each training epoch draws this many samples with replacement (as the original's
            FDST setting of 1,000) instead of one pass over the data.
        pin_memory: Pin host memory (for GPU training).
        drop_last: Drop the last incomplete training batch (True, as the original).
        device_augment: ``kornia.augmentation`` modules run on each training batch on its device, after the transfer
            (:class:`~iim.data.DeviceAugmentation`; photometric ones, or flips); empty: none. Seeded with ``seed``
            plus the process rank; off in validation, test and predict.
    """

    def __init__(
        self,
        source: RecordSource | Callable[..., RecordSource],
        train_transform: CrowdTransform,
        eval_transform: CrowdTransform,
        root: str | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 6,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        splits: Mapping[str, str] | None = None,
        seed: int = 3035,
        samples_per_epoch: int | None = None,
        pin_memory: bool = False,
        drop_last: bool = True,
        device_augment: Sequence[torch.nn.Module] | DeviceAugmentation | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or eval_batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"CrowdDataModule: batch sizes must be >= 1 and num_workers >= 0, got batch_size={batch_size}, "
                f"eval_batch_size={eval_batch_size}, num_workers={num_workers}"
            )
        self._source = source
        self.root = root
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"CrowdDataModule: `mean`/`std` need 3 values each (std > 0), got {mean}, {std}")
        self.train_transform = train_transform
        self.eval_transform = eval_transform
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.splits = {"train": "train", "val": "val", "test": "test", "predict": "test", **dict(splits or {})}
        self.seed = seed
        self.samples_per_epoch = samples_per_epoch
        self.pin_memory = pin_memory
        self.drop_last = drop_last
        if isinstance(device_augment, DeviceAugmentation):
            self.device_augment = device_augment
        else:
            self.device_augment = DeviceAugmentation(list(device_augment or []), seed=seed)
        self._datasets: dict[str, CrowdDataset] = {}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Device augmentation of training batches (see ``device_augment``), on the batch's device."""
        trainer = self.trainer
        if len(self.device_augment) and trainer is not None and trainer.training:
            return self.device_augment(batch)
        return batch

    @property
    def source(self) -> RecordSource:
        """The record source, built on first use from a factory and ``root`` if needed."""
        if not hasattr(self._source, "read"):
            factory = self._source
            self._source = factory(self.root) if self.root is not None else factory()  # type: ignore[operator]
        return self._source  # type: ignore[return-value]

    def dataset(self, stage: str) -> CrowdDataset:
        """The dataset of a stage (``train``, ``val``, ``test``, ``predict``), read on first use."""
        if stage not in self._datasets:
            if stage not in self.splits:
                raise ValueError(f"CrowdDataModule: unknown stage {stage!r}; choose one of {sorted(self.splits)}")
            transform = self.train_transform if stage == "train" else self.eval_transform
            records = self.source.read(self.splits[stage])
            self._datasets[stage] = CrowdDataset(records, transform)
        return self._datasets[stage]

    def setup(self, stage: str | None = None) -> None:
        """Read the splits the given Lightning stage needs."""
        if self.trainer is not None and stage in (None, "fit"):  # DDP ranks draw different device augmentations
            self.device_augment.reseed(self.seed + 7919 * self.trainer.global_rank)
        needed = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": ["predict"]}
        for name in needed.get(stage or "fit", ["train", "val"]):
            self.dataset(name)

    def _loader(self, stage: str, **kwargs: Any) -> DataLoader:
        dataset = self.dataset(stage)
        generator = torch.Generator().manual_seed(self.seed + {"train": 0, "val": 1, "test": 2, "predict": 3}[stage])
        return DataLoader(
            dataset,
            num_workers=self.num_workers,
            collate_fn=collate_crowd,
            worker_init_fn=seed_worker,
            generator=generator,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled random crops, ``batch_size`` a batch."""
        dataset = self.dataset("train")
        if len(dataset) == 0:
            raise ValueError(f"CrowdDataModule: the training split {self.splits['train']!r} has no images")
        if self.samples_per_epoch:
            generator = torch.Generator().manual_seed(self.seed)
            sampler = RandomSampler(dataset, replacement=True, num_samples=self.samples_per_epoch, generator=generator)
            return self._loader("train", batch_size=self.batch_size, sampler=sampler, drop_last=self.drop_last)
        drop_last = self.drop_last and len(dataset) >= self.batch_size
        return self._loader("train", batch_size=self.batch_size, shuffle=True, drop_last=drop_last)

    def val_dataloader(self) -> DataLoader:
        """Whole validation images, in order."""
        return self._loader("val", batch_size=self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Whole test images, in order."""
        return self._loader("test", batch_size=self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Whole images of the predict split, in order."""
        return self._loader("predict", batch_size=self.eval_batch_size, shuffle=False)
