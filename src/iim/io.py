"""Reading images: size from the header (EXIF orientation applied), truncation check, decoding to RGB.

Files (:func:`load_image`, :func:`image_size`) and bytes in memory (:func:`read_header`, :func:`decode_image`, what
``iim-serve`` receives) go through the same checks.

The bottom layer: imports neither torch nor any other ``iim`` module, so that ``iim.data`` (datasets),
``iim.inference`` (prediction on files) and the CLIs share one reader and one error type.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageHeader", "ImageReadError", "check_complete", "decode_image", "image_size", "load_image", "read_header"]

_EXIF_ORIENTATION = 274
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG", b"IEND\xaeB`\x82"
_IMREAD_RGB: int | None = getattr(cv2, "IMREAD_COLOR_RGB", None)


# What decode_image accepts: the still-image formats PIL identifies from their header (no EPS/PDF interpreters).
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM")


class ImageReadError(ValueError):
    """An image file is missing, cut short or cannot be decoded; the message names the file.

    Attributes:
        reason: ``"missing"``, ``"not_an_image"``, ``"too_large"`` (a header past PIL's decompression-bomb limit),
            ``"truncated"`` or ``"undecodable"``.
    """

    def __init__(self, message: str, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says, before any pixel is decoded: ``height`` x ``width`` as displayed, and format."""

    height: int
    width: int
    format: str

    @property
    def pixels(self) -> int:
        return self.height * self.width


def _check_ends(head: bytes, tail: bytes, name: str) -> None:
    """Raise if a JPEG or PNG lacks its end marker (``head``: the first bytes, ``tail``: the last ones)."""
    tail = tail.rstrip(b"\x00\r\n\t ")
    if head.startswith(_JPEG_START) and not tail.endswith(_JPEG_END):
        raise ImageReadError(f"{name}: truncated JPEG (no end-of-image marker)", "truncated")
    if head.startswith(_PNG_START) and not tail.endswith(_PNG_END):
        raise ImageReadError(f"{name}: truncated PNG (no IEND chunk)", "truncated")


def _displayed_size(im: Image.Image) -> tuple[int, int]:
    w, h = im.size
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF: ignore the orientation, as most decoders do
        orientation = 1
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return int(h), int(w)


def read_header(data: bytes, name: str = "image") -> ImageHeader:
    """The size and format of encoded image bytes, from the header only (a decompression bomb is never decoded).

    Raises:
        ImageReadError: ``reason="not_an_image"`` when the bytes are no image of :data:`FORMATS`, ``"too_large"``
            when the header claims more pixels than PIL opens at all.
    """
    try:
        # only the header is read, and the caller checks the size against its own limit: PIL's warning for headers
        # between MAX_IMAGE_PIXELS and twice that (meant for decoding) would only be noise here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as im:
                h, w = _displayed_size(im)
                return ImageHeader(h, w, str(im.format))
    except Image.DecompressionBombError as err:  # PIL refuses headers of more than 2 x MAX_IMAGE_PIXELS itself
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(pixels[1]):,} pixels" if pixels else "over PIL's limit"
        raise ImageReadError(f"{name}: too large: {size} (a decompression bomb?)", "too_large") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        kinds = ", ".join(FORMATS)
        raise ImageReadError(f"{name}: not an image (expected one of {kinds})", "not_an_image") from err


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes as RGB uint8 :math:`(H, W, 3)`, as :func:`load_image` decodes a file.

    Check the size with :func:`read_header` first when the bytes come from outside.

    Raises:
        ImageReadError: not an image, truncated, or undecodable (``reason`` says which; the message names ``name``).
    """
    header = read_header(data, name)
    _check_ends(data[:8], data[-64:], name)
    buffer = np.frombuffer(data, np.uint8)
    if header.format in ("JPEG", "MPO", "PNG"):  # OpenCV's decoders (EXIF orientation applied); PIL for the rest
        image = cv2.imdecode(buffer, _IMREAD_RGB if _IMREAD_RGB is not None else cv2.IMREAD_COLOR)
        if image is not None and image.shape[:2] == (header.height, header.width):
            return image if _IMREAD_RGB is not None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            return np.ascontiguousarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        reason = "truncated" if "truncated" in str(err) else "undecodable"
        raise ImageReadError(f"{name}: cannot decode the {header.format} image ({err})", reason) from err


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
        tail = f.read()
    try:
        _check_ends(head, tail, str(path))
    except ImageReadError as err:
        raise ImageReadError(f"{err}; re-download or remove it", err.reason) from None


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image as RGB uint8 :math:`(H, W, 3)`: EXIF orientation applied, grayscale/RGBA/palette made RGB.

    Raises:
        ImageReadError: the file is missing, truncated or not an image (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: image file is missing", "missing")
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
        return _displayed_size(im)
