"""JHU-Crowd++ v2.0 (per-image text files ``x y w h occlusion blur`` and ``image_labels.txt``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation

__all__ = ["JHUReader"]


class JHUReader(DatasetReader):
    """JHU-Crowd++ in the official layout::

        root/{train,val,test}/images/0000.jpg
        root/{train,val,test}/gt/0000.txt             (one head a line: x y w h occlusion blur)
        root/{train,val,test}/image_labels.txt        (img_id,total_count,scene_type,weather,distractor)

    Boxes are centred on the head point. ``square_boxes=True`` (the original's choice) makes each a square of side
    ``max(w, h)``; ``False`` keeps ``w x h``. Per-head occlusion (1 visible, 2 partial, 3 full) and blur go to
    ``meta["occlusion"]``/``meta["blur"]``; the image labels to ``meta``.

    Args:
        square_boxes: Square boxes of side ``max(w, h)`` (True, as the original) or ``w x h`` boxes.
        **kwargs: See :class:`~iim.data.readers.base.DatasetReader`.
    """

    name: ClassVar[str] = "jhu"
    source_hint: ClassVar[str] = "http://www.crowd-counting.com/ (JHU-Crowd++ v2.0)"
    official_splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    default_val_fraction: ClassVar[float | None] = None

    def __init__(self, root: str | Path, square_boxes: bool = True, **kwargs: object) -> None:
        super().__init__(root, **kwargs)  # type: ignore[arg-type]
        self.square_boxes = square_boxes

    @classmethod
    def layout_hint(cls) -> str:
        return "{train,val,test}/{images/0000.jpg, gt/0000.txt, image_labels.txt}"

    def _labels(self, folder: Path) -> dict[str, dict[str, object]]:
        path = folder / "image_labels.txt"
        labels: dict[str, dict[str, object]] = {}
        if not path.is_file():
            return labels
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",")]
            if len(parts) < 2:
                raise ValueError(f"{path}:{lineno}: expected 'img_id,total_count,scene_type,weather,distractor'")
            entry: dict[str, object] = {"count": int(parts[1])}
            for key, value in zip(("scene_type", "weather", "distractor"), parts[2:5]):
                entry[key] = int(value) if value.lstrip("-").isdigit() else value
            labels[parts[0]] = entry
        return labels

    def _items(self, split: str) -> list[Item]:
        folder = self._require(self.root / split, f"the '{split}' folder")
        images = self._require(folder / "images", "an 'images' folder")
        labels = self._labels(folder)
        return [
            Item(p.stem, p, folder / "gt" / f"{p.stem}.txt", dict(labels.get(p.stem, {})))
            for p in self._images_in(images)
        ]

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        rows = []
        for lineno, line in enumerate(item.annotation_path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            tokens = line.split()
            if len(tokens) < 4:
                raise ValueError(f"line {lineno}: expected 'x y w h occlusion blur', got {line!r}")
            rows.append([float(t) for t in tokens[:6]] + [0.0] * (6 - min(len(tokens), 6)))
        data = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        x, y, w, h = data[:, 0], data[:, 1], data[:, 2], data[:, 3]
        if np.any(w < 0) or np.any(h < 0):
            raise ValueError("negative box width or height")
        if self.square_boxes:
            w = h = np.maximum(w, h)
        boxes = np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)
        count = item.meta.pop("count", None)
        meta = {"occlusion": data[:, 4].astype(np.int64), "blur": data[:, 5].astype(np.int64)}
        return ParsedAnnotation(data[:, :2], boxes, count, meta)
