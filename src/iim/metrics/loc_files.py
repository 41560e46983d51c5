"""Readers and writers of the NWPU-Crowd localization text files (ground truth and predictions / submissions).

Ground-truth file (``val_gt_loc.txt``; ``loc_gt_make`` in IIM), one line per image::

    <id> <num> x y sigma_s sigma_l level  x y sigma_s sigma_l level  ...

``num`` is the image's annotated count and is what MAE/MSE/NAE use. It can be larger than the number of 5-tuples
(boxes of zero area have no tuple), which is normal and not reported. A line whose token count is not ``2 + 5k`` is
malformed. The reference files hold integers; floats are accepted for x, y and the radii. ``level`` must be an
integer 0..5.

Prediction / submission file (``test.py`` in IIM, checked by the NWPU ``read_pred_and_gt``), one line per image::

    <id> <num> x1 y1 x2 y2 ...

with exactly ``2 + 2 * num`` tokens. The reference writes ``int(x) int(y)`` (truncation); floats are accepted when
reading.

Image ids are kept as ``int`` when the token is all digits (so ``3110`` and ``03110`` are the same image), else as
``str``. Blank lines are skipped; a repeated id is an error. Every format problem raises :class:`LocFileError`
(a ``ValueError``) naming the file, the line and what was expected vs found.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iim import validation
from iim.metrics.matching import NUM_LEVELS

__all__ = [
    "GTLocRecord",
    "ImageId",
    "LocFileError",
    "parse_image_id",
    "read_gt_loc",
    "read_pred_loc",
    "write_gt_loc",
    "write_pred_loc",
]

ImageId = int | str
"""An image id: ``int`` for all-digit tokens, else ``str``."""


class LocFileError(ValueError):
    """A malformed line in a localization file.

    Attributes:
        path: The file.
        line: 1-based line number (``None`` for problems not tied to one line).
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, eq=False)
class GTLocRecord:
    """One image of a ground-truth localization file.

    Attributes:
        points: Head centres.
        sigma_s: Small radius of every head (``int(min(w, h) / 2)`` of its box).
        sigma_l: Large radius of every head (``int(sqrt(w² + h²) / 2)`` of its box).
        level: Size level of every head, 0..5 (box area <10, 10-100, ..., >1e5 px²).
        num: The image's count (the file's ``num``); may exceed the number of points.

    Shape:
        - points: :math:`(n, 2)` float64 as (x, y) pixels
        - sigma_s, sigma_l: :math:`(n,)` float64
        - level: :math:`(n,)` int64
    """

    points: np.ndarray
    sigma_s: np.ndarray
    sigma_l: np.ndarray
    level: np.ndarray
    num: int

    @classmethod
    def from_arrays(cls, points: Any, sigma_s: Any, sigma_l: Any, level: Any, num: int | None = None) -> GTLocRecord:
        """Validate and convert arrays (numpy, lists or tensors) into a record; ``num`` defaults to ``len(points)``.

        Args:
            points: Head centres, :math:`(n, 2)` as (x, y).
            sigma_s: :math:`(n,)` radii, finite and ``>= 0``.
            sigma_l: :math:`(n,)` radii, finite and ``>= 0``.
            level: :math:`(n,)` integers 0..5.
            num: The image's count (``>= 0``).

        Returns:
            The record.
        """
        pts = validation.as_points("GTLocRecord: `points`", points)
        n = pts.shape[0]
        s = validation.as_radii("GTLocRecord: `sigma_s`", sigma_s, n)
        la = validation.as_radii("GTLocRecord: `sigma_l`", sigma_l, n)
        lv = validation.as_levels("GTLocRecord: `level`", level, n, NUM_LEVELS)
        if num is None:
            num = n
        if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
            raise ValueError(f"GTLocRecord: `num` must be an integer >= 0, got {num!r}")
        return cls(points=pts, sigma_s=s, sigma_l=la, level=lv, num=int(num))

    def as_target(self) -> dict[str, Any]:
        """The target mapping of :class:`~iim.metrics.LocalizationMetrics` (``count`` = ``num``)."""
        return {
            "points": self.points,
            "sigma_s": self.sigma_s,
            "sigma_l": self.sigma_l,
            "level": self.level,
            "count": self.num,
        }

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __repr__(self) -> str:
        return f"GTLocRecord(num={self.num}, points={len(self)})"


def parse_image_id(token: str) -> ImageId:
    """An image id token: ``int`` if it is all ASCII digits (``"03110"`` -> ``3110``), else the string itself."""
    token = token.strip()
    return int(token) if token.isascii() and token.isdigit() else token


def _numbers(path: str | os.PathLike[str], lineno: int, tokens: list[str], what: str) -> np.ndarray:
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values
    for j, tok in enumerate(tokens):
        try:
            ok = math.isfinite(float(tok))
        except ValueError:
            ok = False
        if not ok:
            raise LocFileError(path, lineno, f"token {j + 3} ({tok!r}) is not a finite number; expected {what}")
    raise LocFileError(path, lineno, f"could not read the numbers; expected {what}")  # pragma: no cover


def _lines(path: str | os.PathLike[str]) -> Iterable[tuple[int, list[str]]]:
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split()
            if tokens:
                yield lineno, tokens


def _header(
    path: str | os.PathLike[str], lineno: int, tokens: list[str], layout: str, seen: dict[ImageId, int]
) -> tuple[ImageId, int]:
    if len(tokens) < 2:
        raise LocFileError(path, lineno, f"expected '{layout}', found {len(tokens)} token ({tokens[0]!r})")
    image_id = parse_image_id(tokens[0])
    if image_id in seen:
        raise LocFileError(path, lineno, f"image id {tokens[0]!r} appears again (first on line {seen[image_id]})")
    seen[image_id] = lineno
    num_tok = tokens[1]
    if not (num_tok.isascii() and num_tok.isdigit()):
        raise LocFileError(path, lineno, f"expected the count <num> as an integer >= 0 (2nd token), found {num_tok!r}")
    return image_id, int(num_tok)


def read_gt_loc(path: str | os.PathLike[str]) -> dict[ImageId, GTLocRecord]:
    """Read a ground-truth localization file (``<id> <num>`` then ``x y sigma_s sigma_l level`` per head).

    Args:
        path: The file, e.g. NWPU's ``val_gt_loc.txt``.

    Returns:
        ``{image id: GTLocRecord}`` in file order.

    Raises:
        LocFileError: a malformed line (token count not ``2 + 5k``, a non-numeric or non-finite value, a negative
            radius, a level outside 0..5, a repeated id), with the file and line number.
        OSError: the file cannot be read.
    """
    layout = "<id> <num> x y sigma_s sigma_l level ..."
    out: dict[ImageId, GTLocRecord] = {}
    seen: dict[ImageId, int] = {}
    for lineno, tokens in _lines(path):
        image_id, num = _header(path, lineno, tokens, layout, seen)
        rest = tokens[2:]
        if len(rest) % 5:
            raise LocFileError(
                path,
                lineno,
                f"expected 2 + 5k tokens ('{layout}', 5 numbers per head), found {len(tokens)} tokens "
                f"({len(rest)} after <id> <num>, not a multiple of 5)",
            )
        values = _numbers(path, lineno, rest, "x y sigma_s sigma_l level per head").reshape(-1, 5)
        sig = values[:, 2:4]
        if (sig < 0).any():
            head = int(np.flatnonzero((sig < 0).any(axis=1))[0])
            raise LocFileError(
                path, lineno, f"head {head + 1}: expected sigma_s, sigma_l >= 0, found {sig[head].tolist()}"
            )
        level = values[:, 4]
        bad = (level != np.round(level)) | (level < 0) | (level >= NUM_LEVELS)
        if bad.any():
            head = int(np.flatnonzero(bad)[0])
            raise LocFileError(
                path, lineno, f"head {head + 1}: expected a level that is an integer 0..5, found {rest[5 * head + 4]!r}"
            )
        out[image_id] = GTLocRecord(
            points=np.ascontiguousarray(values[:, :2]),
            sigma_s=values[:, 2].copy(),
            sigma_l=values[:, 3].copy(),
            level=level.astype(np.int64),
            num=num,
        )
    return out


def read_pred_loc(path: str | os.PathLike[str]) -> dict[ImageId, np.ndarray]:
    """Read a prediction / submission file (``<id> <num> x1 y1 x2 y2 ...``).

    Args:
        path: The file.

    Returns:
        ``{image id: points}`` in file order, points as float64 arrays.

    Raises:
        LocFileError: a malformed line (token count not ``2 + 2 * num``, a non-numeric or non-finite coordinate, a
            repeated id), with the file and line number.
        OSError: the file cannot be read.

    Shape:
        - points: :math:`(num, 2)` as (x, y) pixels
    """
    layout = "<id> <num> x1 y1 x2 y2 ..."
    out: dict[ImageId, np.ndarray] = {}
    seen: dict[ImageId, int] = {}
    for lineno, tokens in _lines(path):
        image_id, num = _header(path, lineno, tokens, layout, seen)
        if len(tokens) != 2 + 2 * num:
            raise LocFileError(
                path,
                lineno,
                f"expected 2 + 2 * num = {2 + 2 * num} tokens for num = {num} ('{layout}'), found {len(tokens)}",
            )
        out[image_id] = _numbers(path, lineno, tokens[2:], "x y coordinates").reshape(-1, 2)
    return out


def _check_id(image_id: Any) -> str:
    text = str(image_id)
    if isinstance(image_id, bool) or not text or any(c.isspace() for c in text):
        raise ValueError(f"image ids must be ints or non-empty strings without whitespace, got {image_id!r}")
    return text


def _fmt(x: float) -> str:
    """An integer-valued number as an int (the reference files hold ints), anything else as the shortest float."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def write_pred_loc(path: str | os.PathLike[str], preds: Mapping[Any, Any], *, truncate: bool = True) -> None:
    """Write a prediction / submission file, one line ``<id> <num> x1 y1 ...`` per image, in mapping order.

    Args:
        path: The output file (overwritten).
        preds: ``{image id: points}``; points as numpy arrays, lists or tensors.
        truncate: Write ``int(x) int(y)`` as IIM's ``test.py`` does (truncation toward zero, what NWPU expects).
            ``False`` writes integer-valued coordinates as ints and others as floats (readable by
            :func:`read_pred_loc`, not by the NWPU server).

    Shape:
        - preds[id]: :math:`(N, 2)` as (x, y) pixels
    """
    lines = []
    for image_id, points in preds.items():
        text_id = _check_id(image_id)
        pts = validation.as_points(f"write_pred_loc: points of image {image_id!r}", points)
        fmt = (lambda v: str(int(v))) if truncate else _fmt
        coords = " ".join(fmt(v) for v in pts.ravel().tolist())
        lines.append(f"{text_id} {pts.shape[0]}" + (f" {coords}" if coords else ""))
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_gt_loc(path: str | os.PathLike[str], records: Mapping[Any, GTLocRecord]) -> None:
    """Write a ground-truth localization file (``<id> <num> x y sigma_s sigma_l level ...``), in mapping order.

    Integer-valued numbers are written as ints (as in the reference files), others as floats.

    Args:
        path: The output file (overwritten).
        records: ``{image id: GTLocRecord}`` (build records from arrays with :meth:`GTLocRecord.from_arrays`).
    """
    lines = []
    for image_id, rec in records.items():
        text_id = _check_id(image_id)
        if not isinstance(rec, GTLocRecord):
            raise ValueError(
                f"write_gt_loc: image {image_id!r} must be a GTLocRecord (GTLocRecord.from_arrays), got {type(rec)}"
            )
        table = np.column_stack([rec.points, rec.sigma_s, rec.sigma_l, rec.level]).tolist()
        body = " ".join(" ".join(_fmt(v) for v in row) for row in table)
        lines.append(f"{text_id} {rec.num}" + (f" {body}" if body else ""))
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
