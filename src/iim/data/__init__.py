"""The data layer: dataset readers, the augmentation pipeline with instance-map targets, and the DataModule.

Importing it loads albumentations, kornia and Lightning; image reading without them is :mod:`iim.io`.
"""

from iim.data.collate import collate_crowd
from iim.data.datamodule import CrowdDataModule, seed_worker
from iim.data.dataset import CrowdDataset
from iim.data.device_augment import DeviceAugmentation
from iim.data.random_scale_crop import RandomScaleCrop
from iim.data.readers import READERS, get_reader
from iim.data.records import CrowdRecord, DatasetError, Problem
from iim.data.stats import compute_mean_std
from iim.data.synthetic import SyntheticCrowds, SyntheticSource, write_synthetic_dataset
from iim.data.transforms import CrowdTransform, RandomScale

__all__ = [
    "READERS",
    "CrowdDataModule",
    "CrowdDataset",
    "CrowdRecord",
    "CrowdTransform",
    "DatasetError",
    "DeviceAugmentation",
    "Problem",
    "RandomScale",
    "RandomScaleCrop",
    "SyntheticCrowds",
    "SyntheticSource",
    "collate_crowd",
    "compute_mean_std",
    "get_reader",
    "seed_worker",
    "write_synthetic_dataset",
]
