"""Reading images: size from the header (EXIF orientation applied), truncation check, decoding to RGB.

The bottom layer: imports neither torch nor any other ``iim`` module, so that ``iim.data`` (datasets),
``iim.inference`` (prediction on files) and the CLIs share one reader and one error type.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageReadError", "check_complete", "image_size", "load_image"]

_EXIF_ORIENTATION = 274
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG", b"IEND\xaeB`\x82"
_IMREAD_RGB: int | None = getattr(cv2, "IMREAD_COLOR_RGB", None)


class ImageReadError(ValueError):
    """An image file is missing, cut short or cannot be decoded; the message names the file."""


def check_complete(path: str | Path) -> None:
    """Raise :class:`ImageReadError` if a JPEG or PNG file is cut short (its end-of-image marker is missing).

    Decoders fill a truncated image's missing part with grey and carry on; this cheap check (the first and last
    bytes only) catches that instead of training on half an image.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(8)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(size - 64, 0))
        tail = f.read().rstrip(b"\x00\r\n\t ")
    if head.startswith(_JPEG_START) and not tail.endswith(_JPEG_END):
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker); re-download or remove it")
    if head.startswith(_PNG_START) and not tail.endswith(_PNG_END):
        raise ImageReadError(f"{path}: truncated PNG (no IEND chunk); re-download or remove it")


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image as RGB uint8 :math:`(H, W, 3)`: EXIF orientation applied, grayscale/RGBA/palette made RGB.

    Raises:
        ImageReadError: the file is missing, truncated or not an image (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image file is missing")
    check_complete(path)
    # EXIF orientation applied; gray and RGBA become 3-channel. OpenCV >= 4.11 decodes straight to RGB (the JPEG
    # decoder writes RGB, saving a BGR -> RGB pass over the image); older versions decode BGR and swap.
    if _IMREAD_RGB is not None:
        image = cv2.imread(str(path), _IMREAD_RGB)
        if image is not None:
            return image
    else:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:  # formats OpenCV cannot read (some palettes, odd TIFFs): let PIL try
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise ImageReadError(f"{path}: cannot decode image ({err})") from err


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image as displayed, i.e. after its EXIF orientation; reads the header only.

    Raises:
        OSError / UnidentifiedImageError: unreadable or not an image.
    """
    with Image.open(path) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
        except Exception:  # malformed EXIF: ignore the orientation, as most decoders do
            orientation = 1
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return int(h), int(w)
