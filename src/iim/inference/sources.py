"""What ``iim-predict`` is given (files, folders, glob patterns) as a list of images and videos with output names."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "InputItem", "collect_inputs"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})


@dataclass(frozen=True)
class InputItem:
    """One image or video to process.

    Attributes:
        path: The file.
        kind: ``"image"`` or ``"video"``.
        name: Its output name: the path relative to the folder or pattern base it came from, without the suffix
            (``a/b/c.jpg`` from folder ``a`` gives ``b/c``); for a file given by itself, its stem.
    """

    path: Path
    kind: str
    name: str


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def _name(path: Path, base: Path | None) -> str:
    rel = path.relative_to(base) if base is not None else Path(path.name)
    return rel.with_suffix("").as_posix()


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], recursive: bool = True
) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Expand files, folders and glob patterns into the images and videos to process.

    Folders give every image and video inside (sorted; subfolders too when ``recursive``), patterns the files they
    match. A file named explicitly is taken whatever its suffix (an image if it is not a known video format), so
    unusual names still reach the decoder and fail with a clear message there. Duplicates are dropped; inputs
    with the same output name are named by their paths relative to their common folder instead (and keep their
    suffix if that is not enough, as for ``a.jpg`` and ``a.png``).

    Returns:
        The items, and the problems: ``(input, message)`` for inputs that match nothing or do not exist.
    """
    items: list[tuple[Path, str, Path | None]] = []
    problems: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(path: Path, kind: str, base: Path | None) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            items.append((path, kind, base))

    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text).expanduser()
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and _kind(p) is not None)
            if not found:
                problems.append((text, "folder has no images or videos"))
            for p in found:
                add(p, _kind(p) or "image", path)
        elif path.is_file():
            add(path, _kind(path) or "image", None)
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True))
            found = [p for p in found if p.is_file() and _kind(p) is not None]
            if not found:
                problems.append((text, "pattern matches no images or videos"))
            base = Path(os.path.expanduser(text.split("*")[0].split("?")[0].split("[")[0]) or ".")
            base = base if base.is_dir() else base.parent
            for p in found:
                add(p, _kind(p) or "image", base)
        else:
            problems.append((text, "no such file or folder"))
    names = [_name(p, base) for p, _, base in items]
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(n, []).append(i)
    for idx in (g for g in groups.values() if len(g) > 1):  # relative to the common folder, + suffix if needed
        paths = [items[i][0].resolve() for i in idx]
        common = Path(os.path.commonpath([p.parent for p in paths]))
        rels = [p.relative_to(common) for p in paths]
        plain = [r.with_suffix("").as_posix() for r in rels]
        for i, name in zip(idx, plain if len(set(plain)) == len(plain) else [r.as_posix() for r in rels]):
            names[i] = name
    taken: set[str] = set()
    for i, n in enumerate(names):  # anything still equal (a renamed file meeting another's name): a counter
        k, unique = 2, n
        while unique in taken:
            unique, k = f"{n}_{k}", k + 1
        names[i] = unique
        taken.add(unique)
    return [InputItem(p, kind, n) for (p, kind, _), n in zip(items, names)], problems
