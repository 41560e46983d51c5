"""Turning what users pass to the Predictor (paths, numpy arrays, PIL images, tensors) into RGB uint8 arrays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iim import validation
from iim.io import ImageReadError, load_image

__all__ = ["ImageInput", "InputError", "as_rgb_array"]

ImageInput = Any  # str | os.PathLike | np.ndarray | PIL.Image.Image | torch.Tensor


class InputError(ValueError):
    """An input image cannot be used; the message names the input and what was expected."""


def _from_array(array: np.ndarray, name: str) -> np.ndarray:
    try:
        return validation.as_rgb_image(name, array)
    except ValueError as err:
        raise InputError(str(err)) from err


def as_rgb_array(image: ImageInput, name: str = "image") -> np.ndarray:
    """An input image as a C-contiguous RGB uint8 array.

    Accepted: a path (``str`` or ``os.PathLike``; EXIF orientation applied, grayscale and RGBA made RGB), a numpy
    array (``(H, W)`` gray, ``(H, W, 3)`` **RGB** -- convert OpenCV's BGR first -- or ``(H, W, 4)`` RGBA; uint8, bool,
    or float in ``[0, 1]``), a PIL image (any mode) or a torch tensor ``(3, H, W)`` / ``(1, H, W)`` / ``(H, W)``
    (uint8, or float in ``[0, 1]``).

    Args:
        image: The input.
        name: How error messages refer to it.

    Returns:
        The pixels, :math:`(H, W, 3)` uint8.

    Raises:
        FileNotFoundError: a path that does not exist.
        InputError: anything else that is not a usable image (corrupt or truncated file, wrong shape or dtype).
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such image file")
        if path.is_dir():
            raise InputError(f"{path}: is a folder; pass its images (iim-predict takes folders)")
        try:
            return load_image(path)
        except ImageReadError as err:
            raise InputError(str(err)) from err
    if isinstance(image, torch.Tensor):
        t = image.detach().to("cpu")
        if t.dim() == 3 and t.shape[0] in (1, 3, 4):
            t = t.permute(1, 2, 0)
        elif t.dim() != 2:
            raise InputError(f"{name}: expected a tensor (3, H, W), (1, H, W) or (H, W), got shape {tuple(t.shape)}")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return _from_array(t.numpy(), name)
    if isinstance(image, np.ndarray):
        return _from_array(image, name)
    try:
        from PIL import Image, ImageOps
    except ImportError:  # pragma: no cover - Pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(image).convert("RGB")))
    raise InputError(
        f"{name}: cannot use an object of type {type(image).__name__} as an image; pass a path, a numpy array, a "
        "PIL image or a torch tensor"
    )
