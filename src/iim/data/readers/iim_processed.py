"""The original IIM code's ``ProcessedData/<DS>`` layout (JSON points and boxes, split lists)."""

from __future__ import annotations

from typing import ClassVar

from iim.data.readers.base import IMAGE_SUFFIXES, DatasetReader, Item, ParsedAnnotation, parse_nwpu_json

__all__ = ["IIMProcessedReader"]


class IIMProcessedReader(DatasetReader):
    """A dataset prepared for (or converted from) the original IIM code::

        root/images/<id>.jpg
        root/jsons/<id>.json           {"img_id", "human_num", "points": [[x, y]], "boxes": [[x1, y1, x2, y2]]}
        root/train.txt  val.txt  test.txt   (first token of each line is the id)
        root/mask_50_60/<id>.png, root/val_gt_loc.txt   (used by the original code; not needed here)

    ``iim-data convert ROOT OUT to=iim`` writes this layout. Test images without a JSON are unannotated.
    """

    name: ClassVar[str] = "iim"
    source_hint: ClassVar[str] = "the original IIM prepare scripts, or `iim-data convert ROOT OUT to=iim`"
    official_splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    default_val_fraction: ClassVar[float | None] = None

    @classmethod
    def layout_hint(cls) -> str:
        return "images/<id>.jpg, jsons/<id>.json, train.txt, val.txt, test.txt"

    def _items(self, split: str) -> list[Item]:
        list_file = self._require(self.root / f"{split}.txt", f"the split file '{split}.txt'")
        images = self._require(self.root / "images", "an 'images' folder")
        items = []
        for image_id in self._list_file(list_file):
            path = next(
                (images / f"{image_id}{s}" for s in IMAGE_SUFFIXES if (images / f"{image_id}{s}").is_file()),
                images / f"{image_id}.jpg",
            )
            ann = self.root / "jsons" / f"{image_id}.json"
            items.append(Item(image_id, path, ann if (split != "test" or ann.is_file()) else None))
        return items

    def _parse(self, item: Item) -> ParsedAnnotation:
        assert item.annotation_path is not None
        return parse_nwpu_json(item.annotation_path)
