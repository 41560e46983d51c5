"""Dataset readers: one per on-disk format, all producing :class:`~iim.data.records.CrowdRecord` lists.

``get_reader("shha", root)`` or ``READERS["nwpu"](root)``; every reader has ``read(split)``, ``scan(split)`` (records
and every problem found) and ``splits()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iim.data.readers.base import DatasetReader, seeded_split
from iim.data.readers.custom import CustomReader
from iim.data.readers.fdst import FDSTReader
from iim.data.readers.iim_processed import IIMProcessedReader
from iim.data.readers.jhu import JHUReader
from iim.data.readers.nwpu import NWPUReader
from iim.data.readers.qnrf import QNRFReader
from iim.data.readers.shanghaitech import ShanghaiTechReader
from iim.io import image_size

__all__ = [
    "READERS",
    "CustomReader",
    "DatasetReader",
    "FDSTReader",
    "IIMProcessedReader",
    "JHUReader",
    "NWPUReader",
    "QNRFReader",
    "ShanghaiTechReader",
    "get_reader",
    "image_size",
    "seeded_split",
]

READERS: dict[str, type[DatasetReader]] = {
    "nwpu": NWPUReader,
    "shanghaitech": ShanghaiTechReader,
    "shha": ShanghaiTechReader,
    "shhb": ShanghaiTechReader,
    "qnrf": QNRFReader,
    "jhu": JHUReader,
    "fdst": FDSTReader,
    "iim": IIMProcessedReader,
    "custom": CustomReader,
}


def get_reader(fmt: str, root: str | Path, **kwargs: Any) -> DatasetReader:
    """The reader for format ``fmt`` (one of :data:`READERS`) over ``root``."""
    key = fmt.lower()
    if key not in READERS:
        raise ValueError(f"unknown dataset format {fmt!r}; choose one of {sorted(READERS)}")
    return READERS[key](root, **kwargs)
