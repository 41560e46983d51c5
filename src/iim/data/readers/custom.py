"""iim's simple custom format: images plus one JSON or text file of head points (boxes optional) per image.

Layout::

    root/images/<name>.jpg                 (any of .jpg .jpeg .png .bmp .tif .tiff .webp; names may not repeat)
    root/annotations/<name>.json           {"points": [[x, y], ...], "boxes": [[x1, y1, x2, y2], ...]}
    root/annotations/<name>.txt            or one head a line: "x y", or "x y x1 y1 x2 y2" with a box
    root/train.txt root/val.txt root/test.txt   optional: one image name (without extension) a line

Coordinates are 0-based pixels (the centre of the top-left pixel is (0, 0)). ``boxes`` may be left out (the pipeline
then estimates head sizes from the points); if given, one per point. An image with no heads has an annotation file
with an empty list (or an empty text file): negative samples are valid training data. Without split files every
image is ``train`` and ``val`` is a seeded fraction of it. ``iim-data convert ROOT OUT to=custom`` writes this format.
"""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation

__all__ = ["CustomReader"]


class CustomReader(DatasetReader):
    """Reader of iim's custom format (see the module docstring for the layout)."""

    name: ClassVar[str] = "custom"
    source_hint: ClassVar[str] = "you: see the README, section Datasets, or `iim-data synth` for an example"
    default_val_fraction: ClassVar[float | None] = 0.1

    def __init__(self, root: object, **kwargs: object) -> None:
        super().__init__(root, **kwargs)  # type: ignore[arg-type]
        present = tuple(s for s in ("train", "val", "test") if (self.root / f"{s}.txt").is_file())
        self.official_splits = present or ("train",)  # type: ignore[misc]

    @classmethod
    def layout_hint(cls) -> str:
        return "images/<name>.jpg + annotations/<name>.json or .txt, optional train.txt/val.txt/test.txt"

    def _items(self, split: str) -> list[Item]:
        images = self._require(self.root / "images", "an 'images' folder")
        annotations = self.root / "annotations"
        by_name = {}
        for path in self._images_in(images):
            by_name.setdefault(path.stem, path)
        list_file = self.root / f"{split}.txt"
        names = self._list_file(list_file) if list_file.is_file() else list(by_name)
        items = []
        for name in names:
            image = by_name.get(name, images / f"{name}.jpg")
            candidates = [annotations / f"{name}{suffix}" for suffix in (".json", ".txt")]
            ann = next((c for c in candidates if c.is_file()), candidates[0])
            items.append(Item(name, image, ann))
        return items

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        if item.annotation_path.suffix == ".json":
            data = json.loads(item.annotation_path.read_text())
            if isinstance(data, list):
                data = {"points": data}
            if not isinstance(data, dict) or "points" not in data:
                raise ValueError('expected {"points": [[x, y], ...], "boxes": [[x1, y1, x2, y2], ...]}')
            points = np.asarray(data["points"], dtype=np.float64)
            if points.size and (points.ndim != 2 or points.shape[1] != 2):
                raise ValueError(f"'points' must be a list of [x, y] pairs, got shape {points.shape}")
            boxes = data.get("boxes")
            boxes_arr = None
            if boxes is not None:
                boxes_arr = np.asarray(boxes, dtype=np.float64)
                if boxes_arr.size and (boxes_arr.ndim != 2 or boxes_arr.shape[1] != 4):
                    raise ValueError(f"'boxes' must be a list of [x1, y1, x2, y2], got shape {boxes_arr.shape}")
            return ParsedAnnotation(
                points.reshape(-1, 2), None if boxes_arr is None else boxes_arr.reshape(-1, 4), data.get("count")
            )
        rows = []
        widths = set()
        for lineno, line in enumerate(item.annotation_path.read_text().splitlines(), 1):
            tokens = line.replace(",", " ").split()
            if not tokens or tokens[0].startswith("#"):
                continue
            if len(tokens) not in (2, 6):
                raise ValueError(f"line {lineno}: expected 'x y' or 'x y x1 y1 x2 y2', got {line!r}")
            rows.append([float(t) for t in tokens])
            widths.add(len(tokens))
        if len(widths) > 1:
            raise ValueError("mixes lines with and without boxes; give a box for every head or for none")
        data_arr = np.asarray(rows, dtype=np.float64)
        if not rows:
            return ParsedAnnotation(np.zeros((0, 2)))
        return ParsedAnnotation(data_arr[:, :2], data_arr[:, 2:6] if data_arr.shape[1] == 6 else None)
