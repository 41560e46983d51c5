"""The data layer: dataset readers, the augmentation pipeline with instance-map targets, and the DataModule.

Every name is imported on first use (PEP 562), so ``iim.data.image_io`` and ``iim.data.records`` load without
albumentations or Lightning (the Predictor reads images through them); ``CrowdDataModule`` needs Lightning.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "collate_crowd": "collate",
    "CrowdDataset": "dataset",
    "image_size": "image_io",
    "load_image": "image_io",
    "READERS": "readers",
    "get_reader": "readers",
    "CrowdRecord": "records",
    "DatasetError": "records",
    "Problem": "records",
    "DATASET_STATS": "stats",
    "compute_mean_std": "stats",
    "SyntheticCrowds": "synthetic",
    "SyntheticSource": "synthetic",
    "write_synthetic_dataset": "synthetic",
    "CrowdTransform": "transforms",
    "RandomScaleCrop": "transforms",
    "eval_transform": "transforms",
    "train_transform": "transforms",
    "CrowdDataModule": "datamodule",
    "seed_worker": "datamodule",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"iim.data.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'iim.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
