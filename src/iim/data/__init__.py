"""The data layer: dataset readers, the augmentation pipeline with instance-map targets, and the DataModule.

Readers, records, transforms, the dataset and the synthetic generator need no Lightning; ``CrowdDataModule`` is
imported on first use.
"""

from __future__ import annotations

from typing import Any

from iim.data.collate import collate_crowd
from iim.data.dataset import CrowdDataset
from iim.data.image_io import image_size, load_image
from iim.data.readers import READERS, get_reader
from iim.data.records import CrowdRecord, DatasetError, Problem
from iim.data.stats import DATASET_STATS, compute_mean_std
from iim.data.synthetic import SyntheticCrowds, SyntheticSource, write_synthetic_dataset
from iim.data.transforms import CrowdTransform, RandomScaleCrop, eval_transform, train_transform

__all__ = [
    "DATASET_STATS",
    "READERS",
    "CrowdDataModule",
    "CrowdDataset",
    "CrowdRecord",
    "CrowdTransform",
    "DatasetError",
    "Problem",
    "RandomScaleCrop",
    "SyntheticCrowds",
    "SyntheticSource",
    "collate_crowd",
    "compute_mean_std",
    "eval_transform",
    "get_reader",
    "image_size",
    "load_image",
    "seed_worker",
    "train_transform",
    "write_synthetic_dataset",
]


def __getattr__(name: str) -> Any:
    if name in ("CrowdDataModule", "seed_worker"):
        from iim.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module 'iim.data' has no attribute {name!r}")
