"""UCF-QNRF (``.mat`` point annotations ``annPoints``, 1-based)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.io import loadmat

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation

__all__ = ["QNRFReader"]


class QNRFReader(DatasetReader):
    """UCF-QNRF in the official layout::

        root/Train/img_0001.jpg + root/Train/img_0001_ann.mat   (key ``annPoints``: N x 2, x y, 1-based)
        root/Test/...

    1,201 training and 334 test images; no head boxes; ``val`` is a seeded 20 % of Train, as the original's (unseeded)
    split.
    """

    name: ClassVar[str] = "qnrf"
    source_hint: ClassVar[str] = "https://www.crcv.ucf.edu/data/ucf-qnrf/"
    one_based: ClassVar[bool] = True
    official_splits: ClassVar[tuple[str, ...]] = ("train", "test")
    default_val_fraction: ClassVar[float | None] = 0.2

    @classmethod
    def layout_hint(cls) -> str:
        return "{Train,Test}/img_0001.jpg + img_0001_ann.mat"

    def _items(self, split: str) -> list[Item]:
        folder = self._require(self.root / split.capitalize(), f"the '{split.capitalize()}' folder")
        return [Item(p.stem, p, p.with_name(f"{p.stem}_ann.mat")) for p in self._images_in(folder)]

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        mat = loadmat(item.annotation_path)
        if "annPoints" not in mat:
            raise KeyError("no 'annPoints' variable")
        return ParsedAnnotation(np.asarray(mat["annPoints"], dtype=np.float64).reshape(-1, 2))
