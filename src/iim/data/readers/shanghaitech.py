"""ShanghaiTech Part A and Part B (``.mat`` point annotations, 1-based)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.io import loadmat

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation, mat_field, unwrap

__all__ = ["ShanghaiTechReader"]


class ShanghaiTechReader(DatasetReader):
    """ShanghaiTech Part A or B, in the official layout.

    ``root`` is the part's folder (``part_A`` or ``part_B``, also ``part_A_final``)::

        root/train_data/images/IMG_<n>.jpg
        root/train_data/ground-truth/GT_IMG_<n>.mat   (or ground_truth/)
        root/test_data/...

    The ``.mat`` holds ``image_info`` -> ``location`` (N x 2, x y, 1-based) and ``number``. There are no head boxes
    (the pipeline estimates them) and no official validation split: ``val`` is a seeded fraction of the training set
    (10 % as in the original, which drew it without a seed).
    """

    name: ClassVar[str] = "shanghaitech"
    source_hint: ClassVar[str] = (
        "the ShanghaiTech dataset release (Zhang et al., CVPR 2016; e.g. https://github.com/desenzhou/ShanghaiTechDataset)"
    )
    one_based: ClassVar[bool] = True
    official_splits: ClassVar[tuple[str, ...]] = ("train", "test")
    default_val_fraction: ClassVar[float | None] = 0.1

    @classmethod
    def layout_hint(cls) -> str:
        return "part_A/{train_data,test_data}/{images/IMG_n.jpg, ground-truth/GT_IMG_n.mat}"

    def _items(self, split: str) -> list[Item]:
        folder = self._require(self.root / f"{split}_data", f"the {split} folder '{split}_data'")
        images = self._require(folder / "images", "an 'images' folder")
        gt = folder / "ground-truth"
        if not gt.is_dir():
            gt = self._require(folder / "ground_truth", "a 'ground-truth' (or 'ground_truth') folder")
        return [Item(p.stem, p, gt / f"GT_{p.stem}.mat") for p in self._images_in(images)]

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        info = loadmat(item.annotation_path)["image_info"]
        points = unwrap(mat_field(info, "location")).astype(np.float64).reshape(-1, 2)
        try:
            count = int(unwrap(mat_field(info, "number")).reshape(-1)[0])
        except (KeyError, IndexError):
            count = None
        return ParsedAnnotation(points, None, count)
