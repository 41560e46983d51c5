"""FDST (Fudan-ShanghaiTech video crowds): one VGG Image Annotator JSON per frame, one folder per video."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation, natural_key

__all__ = ["FDSTReader"]


class FDSTReader(DatasetReader):
    """FDST in the public layout::

        root/{train_data,test_data}/<video>/<frame>.jpg
        root/{train_data,test_data}/<video>/<frame>.json    (VIA export: {"<file><size>": {"regions": [...]}})

    Each region is a ``rect`` with ``x, y, width, height``; the head point is the box centre. Image ids are
    ``<video>/<frame>``. The seeded ``val`` split holds out whole videos (frames of one video are near duplicates).
    """

    name: ClassVar[str] = "fdst"
    source_hint: ClassVar[str] = "https://github.com/sweetyy83/Lstn_fdst_dataset"
    official_splits: ClassVar[tuple[str, ...]] = ("train", "test")
    default_val_fraction: ClassVar[float | None] = 0.1

    @classmethod
    def layout_hint(cls) -> str:
        return "{train_data,test_data}/<video>/<frame>.jpg + <frame>.json"

    def _items(self, split: str) -> list[Item]:
        folder = self._require(self.root / f"{split}_data", f"the '{split}_data' folder")
        items = []
        for video in sorted((p for p in folder.iterdir() if p.is_dir()), key=natural_key):
            for image in self._images_in(video):
                items.append(
                    Item(f"{video.name}/{image.stem}", image, image.with_suffix(".json"), {"video": video.name})
                )
        return items

    def _group(self, item: Item) -> str:
        return str(item.meta["video"])

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        data = json.loads(item.annotation_path.read_text())
        if not isinstance(data, dict) or not data:
            raise ValueError("expected a VIA JSON object with one entry per image")
        entry = next(iter(data.values()))
        regions = entry.get("regions", [])
        if isinstance(regions, dict):  # older VIA exports key the regions by index
            regions = list(regions.values())
        boxes = []
        for k, region in enumerate(regions):
            shape = region.get("shape_attributes", {})
            if shape.get("name", "rect") != "rect":
                raise ValueError(f"region {k}: expected a 'rect', got {shape.get('name')!r}")
            x, y, w, h = (float(shape[key]) for key in ("x", "y", "width", "height"))
            boxes.append([x, y, x + w, y + h])
        boxes_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        points = (boxes_arr[:, :2] + boxes_arr[:, 2:]) / 2
        return ParsedAnnotation(points, boxes_arr)
