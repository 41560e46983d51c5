"""NWPU-Crowd (JSON annotations with head points and boxes, official split files)."""

from __future__ import annotations

from typing import ClassVar

from iim.data.readers.base import DatasetReader, Item, ParsedAnnotation, parse_nwpu_json

__all__ = ["NWPUReader"]


class NWPUReader(DatasetReader):
    """NWPU-Crowd in the official layout (merge the ``images_part*.zip`` archives into ``images/``)::

        root/images/0001.jpg ... 5109.jpg
        root/jsons/0001.json ... 3609.json      {"img_id", "human_num", "points": [[x, y]], "boxes": [[x1, y1, x2, y2]]}
        root/train.txt  root/val.txt  root/test.txt    (lines "<id> <luminance> <scene level>"; test: "<id>")

    Official splits: train 3,109, val 500 (3110-3609 with 3169 swapped for 3098), test 1,500 (no annotations).
    Coordinates are used as they are (0-based pixels). The luminance and scene level go to ``meta``.
    """

    name: ClassVar[str] = "nwpu"
    source_hint: ClassVar[str] = "the NWPU-Crowd site, https://gjy3035.github.io/NWPU-Crowd-Sample-Code/"
    official_splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    default_val_fraction: ClassVar[float | None] = None

    @classmethod
    def layout_hint(cls) -> str:
        return "images/<id>.jpg, jsons/<id>.json, train.txt, val.txt, test.txt"

    def _items(self, split: str) -> list[Item]:
        list_file = self._require(self.root / f"{split}.txt", f"the split file '{split}.txt'")
        images = self._require(self.root / "images", "an 'images' folder")
        items = []
        for line in list_file.read_text().splitlines():
            tokens = line.split()
            if not tokens:
                continue
            meta = {}
            if len(tokens) >= 3:
                meta = {"luminance": int(tokens[1]), "scene_level": int(tokens[2])}
            ann = None if split == "test" else self.root / "jsons" / f"{tokens[0]}.json"
            items.append(Item(tokens[0], images / f"{tokens[0]}.jpg", ann, meta))
        return items

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        return parse_nwpu_json(item.annotation_path)
