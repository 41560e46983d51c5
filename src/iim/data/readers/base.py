"""Shared machinery of the dataset readers: listing, image sizes, coordinate checks, seeded splits, problem reports.

A reader subclasses :class:`DatasetReader` and implements two methods: ``_items(split)`` lists the images of a split
(with their annotation files) and ``_parse(item)`` reads one annotation into points (and boxes where the dataset has
them). Everything else -- image sizes with EXIF orientation, MATLAB-to-0-based conversion, points outside the image,
count checks, seeded validation splits written to a file, and collecting every problem instead of stopping at the
first -- happens here, the same way for every format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import UnidentifiedImageError

from iim.data.records import CrowdRecord, DatasetError, Problem
from iim.io import ImageReadError, check_complete, image_size

__all__ = [
    "DatasetReader",
    "Item",
    "ParsedAnnotation",
    "image_size",
    "mat_field",
    "natural_key",
    "seeded_split",
    "unwrap",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Item:
    """One image of a split, before its annotation is parsed."""

    image_id: str
    image_path: Path
    annotation_path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedAnnotation:
    """What ``_parse`` returns: raw coordinates in the file's own convention."""

    points: np.ndarray
    boxes: np.ndarray | None = None
    count: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def seeded_split(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split ``ids`` into ``(train, val)`` reproducibly: the same ids, fraction and seed give the same split.

    Ids are sorted first, so the split does not depend on file-system order.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
    ordered = sorted(ids)
    n_val = round(len(ordered) * fraction)
    if fraction > 0 and n_val == 0 and len(ordered) > 1:
        n_val = 1
    perm = np.random.default_rng(seed).permutation(len(ordered))
    val = {ordered[i] for i in perm[:n_val]}
    return [i for i in ordered if i not in val], [i for i in ordered if i in val]


class DatasetReader(ABC):
    """Base class of the dataset readers.

    Args:
        root: The dataset's root folder (layout per reader; see each reader's docstring).
        out_of_bounds: What to do with points outside the image: ``"clip"`` them to the border (default; the number
            is recorded in ``meta["points_clipped"]``) or ``"drop"`` them (``meta["points_dropped"]``).
        val_fraction: For datasets without an official validation split: the fraction of the official training
            images held out as ``val`` (the rest is ``train``; ``trainval`` is all of them).
        seed: Seed of that split.
        split_file: Where the seeded split is written (one ``train``/``val`` id list per line: ``<split> <id>``).
            If the file exists it is read instead, so a split can be pinned. ``None`` computes it without writing.
        scale: Resize every image by this factor when it is loaded (its points and boxes with it); 1 keeps the
            files' resolution. The original code prepares ShanghaiTech at x2 (``scale: 2``; it also floors the
            sides to a multiple of 16, which iim's padding makes unnecessary). Each record then holds the resized
            size, and ``meta["source_size"]`` the file's ``(height, width)``; evaluation runs at the resized size.
    """

    name: ClassVar[str] = "base"
    #: Coordinates in the annotation files are 1-based (MATLAB) and get 1 subtracted.
    one_based: ClassVar[bool] = False
    #: Splits that exist on disk.
    official_splits: ClassVar[tuple[str, ...]] = ("train", "test")
    #: Where users get the dataset (for error messages).
    source_hint: ClassVar[str] = "its authors"
    #: Default validation fraction when the dataset has no official val split (None: it has one).
    default_val_fraction: ClassVar[float | None] = 0.1

    def __init__(
        self,
        root: str | Path,
        out_of_bounds: str = "clip",
        val_fraction: float | None = None,
        seed: int = 3035,
        split_file: str | Path | None = None,
        scale: float = 1.0,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(
                f"{self.name}: dataset root {str(self.root)!r} does not exist or is not a folder. Set data.root=... to "
                f"the folder that holds the {self.name} dataset ({self.layout_hint()}). It comes from "
                f"{self.source_hint}."
            )
        if out_of_bounds not in ("clip", "drop"):
            raise ValueError(f"{self.name}: `out_of_bounds` must be 'clip' or 'drop', got {out_of_bounds!r}")
        self.out_of_bounds = out_of_bounds
        self.val_fraction = self.default_val_fraction if val_fraction is None else val_fraction
        self.seed = seed
        self.split_file = Path(split_file) if split_file is not None else None
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.1 <= float(scale) <= 8:
            raise ValueError(f"{self.name}: `scale` must be a number in [0.1, 8], got {scale!r}")
        self.scale = float(scale)

    # ----------------------------------------------------------------------------------------------- to implement
    @classmethod
    def layout_hint(cls) -> str:
        """One line describing the expected layout (used in error messages)."""
        return "see the iim README, section Datasets"

    @abstractmethod
    def _items(self, split: str) -> list[Item]:
        """The images of an official split (``train``/``val``/``test``), sorted by id."""

    @abstractmethod
    def _parse(self, item: Item) -> ParsedAnnotation:
        """Parse one annotation file. Raise ``ValueError`` with a clear message if it is malformed."""

    # ---------------------------------------------------------------------------------------------------- splits
    def _carves_val(self) -> bool:
        return "val" not in self.official_splits and bool(self.val_fraction)

    def splits(self) -> list[str]:
        """The split names this reader serves (official ones, a seeded ``val`` where needed, and ``trainval``)."""
        names = list(self.official_splits)
        if self._carves_val():
            names.insert(1, "val")
        return [*names, "trainval"]

    def _split_ids(self, split: str) -> list[Item]:
        has_val = "val" in self.official_splits
        if split == "trainval":
            return self._items("train") + (self._items("val") if has_val else [])
        if self._carves_val() and split in ("train", "val"):
            items = self._items("train")
            train_ids, val_ids = self._seeded(items)
            keep = set(train_ids if split == "train" else val_ids)
            return [it for it in items if it.image_id in keep]
        if split in self.official_splits:
            return self._items(split)
        raise ValueError(f"{self.name}: unknown split {split!r}; this dataset has {self.splits()}")

    def _group(self, item: Item) -> str:
        """The unit the seeded split keeps together (the image; readers of videos return the video)."""
        return item.image_id

    def _seeded(self, items: list[Item]) -> tuple[list[str], list[str]]:
        ids = [it.image_id for it in items]
        if self.split_file is not None and self.split_file.is_file():
            train, val = [], []
            for lineno, line in enumerate(self.split_file.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                parts = line.split(maxsplit=1)
                if len(parts) != 2 or parts[0] not in ("train", "val"):
                    raise DatasetError(f"{self.split_file}:{lineno}: expected '<train|val> <id>', got {line!r}")
                (train if parts[0] == "train" else val).append(parts[1].strip())
            unknown = sorted(set(train + val) - set(ids))
            if unknown:
                raise DatasetError(f"{self.split_file}: ids not in {self.name}'s training set: {unknown[:10]}")
            return train, val
        groups: dict[str, list[str]] = {}
        for it in items:
            groups.setdefault(self._group(it), []).append(it.image_id)
        train_groups, val_groups = seeded_split(list(groups), float(self.val_fraction or 0.0), self.seed)
        train = sorted(i for g in train_groups for i in groups[g])
        val = sorted(i for g in val_groups for i in groups[g])
        if self.split_file is not None:
            self.split_file.parent.mkdir(parents=True, exist_ok=True)
            lines = [f"train {i}" for i in train] + [f"val {i}" for i in val]
            self.split_file.write_text("\n".join(lines) + "\n")
        return train, val

    def split_digest(self, split: str) -> str:
        """A short hash of a split's ids, to tell splits apart in logs."""
        ids = "\n".join(it.image_id for it in self._split_ids(split))
        return hashlib.sha1(ids.encode()).hexdigest()[:10]

    # ----------------------------------------------------------------------------------------------- reading
    def _record(self, item: Item, split: str, problems: list[Problem]) -> CrowdRecord | None:
        if not item.image_path.is_file():
            problems.append(Problem(item.image_path, "image file is missing"))
            return None
        try:
            height, width = image_size(item.image_path)
            check_complete(item.image_path)
        except ImageReadError as err:
            problems.append(Problem(item.image_path, str(err).split(": ", 1)[-1]))
            return None
        except (OSError, UnidentifiedImageError, SyntaxError) as err:
            problems.append(Problem(item.image_path, f"unreadable image ({err})"))
            return None
        if item.annotation_path is None:
            return CrowdRecord(
                item.image_id,
                item.image_path,
                height,
                width,
                np.zeros((0, 2), np.float32),
                None,
                False,
                {"split": split, **item.meta},
            )
        if not item.annotation_path.is_file():
            problems.append(Problem(item.annotation_path, f"annotation file for image {item.image_id!r} is missing"))
            return None
        try:
            parsed = self._parse(item)
        except (ValueError, KeyError, IndexError, TypeError, OSError) as err:
            problems.append(Problem(item.annotation_path, f"cannot parse annotation: {err}"))
            return None
        points = np.asarray(parsed.points, dtype=np.float64).reshape(-1, 2)
        boxes = None if parsed.boxes is None else np.asarray(parsed.boxes, dtype=np.float64).reshape(-1, 4)
        path = item.annotation_path
        if not np.all(np.isfinite(points)) or (boxes is not None and not np.all(np.isfinite(boxes))):
            problems.append(Problem(path, "annotation has NaN or infinite coordinates"))
            return None
        if boxes is not None and len(boxes) != len(points):
            problems.append(Problem(path, f"{len(points)} points but {len(boxes)} boxes"))
            return None
        if boxes is not None and np.any(boxes[:, 2:] < boxes[:, :2]):
            problems.append(Problem(path, "a box has x2 < x1 or y2 < y1"))
            return None
        meta: dict[str, Any] = {"split": split, **item.meta, **parsed.meta}
        if parsed.count is not None:
            meta["count"] = int(parsed.count)
            if int(parsed.count) != len(points):
                problems.append(
                    Problem(path, f"stated count {parsed.count} differs from the {len(points)} points", fatal=False)
                )
        if self.one_based:
            points = points - 1.0
            if boxes is not None:
                boxes = boxes - 1.0
        inside = (points[:, 0] >= 0) & (points[:, 0] <= width - 1) & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
        n_out = int((~inside).sum())
        if n_out:
            far = np.maximum(np.maximum(-points, points - [width - 1, height - 1]), 0).max()
            if self.out_of_bounds == "drop":
                points = points[inside]
                boxes = None if boxes is None else boxes[inside]
                meta["points_dropped"] = n_out
            else:
                points = np.stack([points[:, 0].clip(0, width - 1), points[:, 1].clip(0, height - 1)], axis=1)
                meta["points_clipped"] = n_out
            if far > 1.5:  # more than a pixel and a half outside: worth a look, not just rounding
                problems.append(
                    Problem(
                        path,
                        f"{n_out} point(s) outside the {width}x{height} image (up to {far:.1f} px), "
                        f"{'dropped' if self.out_of_bounds == 'drop' else 'clipped'}",
                        fatal=False,
                    )
                )
        if boxes is not None:
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
            boxes = boxes.astype(np.float32)
        return CrowdRecord(item.image_id, item.image_path, height, width, points.astype(np.float32), boxes, True, meta)

    def scan(self, split: str) -> tuple[list[CrowdRecord], list[Problem]]:
        """Read every image of a split, collecting problems instead of stopping at the first."""
        problems: list[Problem] = []
        try:
            items = self._split_ids(split)
        except (OSError, ValueError) as err:
            if isinstance(err, DatasetError):
                raise
            raise DatasetError(f"{self.name}: cannot list split {split!r} under {self.root}: {err}") from err
        records = [r for r in (self._record(it, split, problems) for it in items) if r is not None]
        if self.scale != 1.0:
            records = [scale_record(r, self.scale) for r in records]
        return records, problems

    def read(self, split: str) -> list[CrowdRecord]:
        """The records of a split; raises :class:`DatasetError` listing every fatal problem, if any."""
        records, problems = self.scan(split)
        fatal = [p for p in problems if p.fatal]
        if fatal:
            raise DatasetError(f"{self.name}: {len(fatal)} file(s) of split {split!r} cannot be read", fatal)
        return records

    # --------------------------------------------------------------------------------------------------- helpers
    def _require(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise DatasetError(
                f"{self.name}: expected {what} at {str(path)!r}; is data.root={str(self.root)!r} the dataset's root? "
                f"({self.layout_hint()})"
            )
        return path

    @staticmethod
    def _images_in(folder: Path) -> list[Path]:
        return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)

    @staticmethod
    def _list_file(path: Path) -> list[str]:
        """First token of every non-empty line of a split file (NWPU lines are ``id lum level``)."""
        return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def scale_record(record: CrowdRecord, scale: float) -> CrowdRecord:
    """``record`` resized by ``scale``: its size rounded to whole pixels, its points and boxes by the per-axis rates.

    Points are pixel centres, so ``x' = (x + 0.5) * rx - 0.5``; box edges scale as ``x' = x * rx``. The image
    (a file's, or an in-memory one) is resized when it is loaded (:class:`~iim.data.CrowdDataset`), to the size
    recorded here.
    """
    height, width = max(1, round(record.height * scale)), max(1, round(record.width * scale))
    ry, rx = height / record.height, width / record.width
    rates = np.array([rx, ry], dtype=np.float64)
    points = ((record.points.astype(np.float64) + 0.5) * rates - 0.5).astype(np.float32)
    boxes = None if record.boxes is None else (record.boxes.astype(np.float64) * np.tile(rates, 2)).astype(np.float32)
    meta = {**record.meta, "source_size": (record.height, record.width)}
    return dataclasses.replace(record, height=height, width=width, points=points, boxes=boxes, meta=meta)


def parse_nwpu_json(path: Path) -> ParsedAnnotation:
    """Parse the NWPU-style JSON that NWPU-Crowd and the original IIM layout share.

    ``{"img_id", "human_num", "points": [[x, y], ...], "boxes": [[x1, y1, x2, y2], ...]}``; ``boxes`` may be absent.
    """
    data = json.loads(path.read_text())
    points = np.asarray(data.get("points", []), dtype=np.float64).reshape(-1, 2)
    boxes = data.get("boxes")
    boxes_arr = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return ParsedAnnotation(points, boxes_arr, data.get("human_num"))


def natural_key(value: str | Path) -> list[Any]:
    """Sort key that orders ``IMG_2`` before ``IMG_10``."""
    text = value.name if isinstance(value, Path) else str(value)
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text)]


def mat_field(struct: Any, name: str) -> Any:
    """Dig a named field out of a MATLAB struct loaded by scipy (nested 1x1 object arrays)."""
    value = struct
    for _ in range(6):
        if isinstance(value, np.ndarray) and value.dtype.names and name in value.dtype.names:
            return value[name]
        if isinstance(value, np.void) and value.dtype.names and name in value.dtype.names:
            return value[name]
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(-1)[0]
            continue
        break
    raise KeyError(f"MATLAB field {name!r} not found")


def unwrap(value: Any) -> np.ndarray:
    """Strip scipy's 1x1 object-array wrappers down to the numeric array."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.reshape(-1)[0]
    return np.asarray(value)
