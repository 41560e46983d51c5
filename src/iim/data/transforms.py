"""The augmentation pipeline: one albumentations ``Compose`` from config, the instance map, pad and random crop.

A training sample is made in three steps:

1. **augment** -- one ``A.Compose`` of the configured ``geometric`` then ``photometric`` transforms, with a keypoint
   and a bbox processor: every head travels as a point and a box, each with its id. A head whose point leaves the
   image is dropped together with its box; a box that albumentations filters while its point stays becomes a
   1-pixel box around the point. Any albumentations transform works here, from YAML, without iim code;
2. **target** -- the independent instance map, built from the *transformed* boxes at the transformed size by
   :func:`iim.targets.boxes_to_instance_map`, so that resizing can never merge two instances
   (``target_mode="after_augmentation"``, iim's default). The original instead made the map once at full size and
   resized it with the image (nearest), which can merge neighbours after downscaling: ``target_mode="original"``
   builds the map first and carries it through step 1 as the ``mask``;
3. **crop** -- a second ``A.Compose``: ``A.RandomCrop`` to ``crop_size`` with ``pad_if_needed`` (padding at a random
   position, filled with the dataset's mean colour, so that padding normalises to zero), applied to image, map and
   heads. One transform rather than ``A.PadIfNeeded`` + ``A.RandomCrop`` (the same distribution): the head
   processors run once, 14 % faster per Part A sample (``benchmarks/bench_data.py``).

Evaluation uses the same class with no transforms and no crop: the whole image and its map.

Samples stay uint8; the image is a ``(3, H, W)`` view of the ``(H, W, 3)`` pixels (channels-last strides, no
transposing copy), which :func:`iim.data.collate_crowd` stacks into a ``torch.channels_last`` batch. Normalisation
happens on the model's device (:func:`iim.ops.normalize_image`), and so can photometric augmentation
(:class:`iim.data.DeviceAugmentation`, kornia).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from torch import Tensor

from iim.ops import IMAGENET_MEAN
from iim.targets import boxes_to_instance_map, points_to_boxes

__all__ = ["CrowdTransform", "RandomScale"]

TARGET_MODES = ("after_augmentation", "original")


class RandomScale(A.RandomScale):
    """``A.RandomScale`` with the factor's range written as it is meant: ``scale_range=(0.8, 1.2)`` (the original's).

    Images resize with linear interpolation, masks with nearest (``A.RandomScale``'s defaults); points and boxes
    scale with the image (``x' = x s``).

    Args:
        scale_range: ``(low, high)`` of the scale factor, ``0 < low <= high``; ``(1, 1)`` disables scaling.
        p: Probability of applying the transform.
        **kwargs: Other arguments of ``A.RandomScale`` (``interpolation``, ``mask_interpolation``, ...).
    """

    def __init__(self, scale_range: Sequence[float] = (0.8, 1.2), p: float = 1.0, **kwargs: Any) -> None:
        low, high = (float(v) for v in scale_range)
        if not 0 < low <= high:
            raise ValueError(f"RandomScale: `scale_range` must be (low, high) with 0 < low <= high, got {scale_range}")
        super().__init__(scale_limit=(low - 1.0, high - 1.0), p=p, **kwargs)
        self.scale_range = (low, high)


def _as_transforms(transforms: Any, field: str) -> list[Any]:
    """The config list ``field`` as a list of albumentations transforms (TypeError naming the entry otherwise)."""
    if transforms is None:
        return []
    if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence):
        raise TypeError(f"CrowdTransform: `{field}` must be a list of albumentations transforms, got {transforms!r}")
    out = list(transforms)
    for i, t in enumerate(out):
        if not isinstance(t, (A.BasicTransform, A.BaseCompose)):
            raise TypeError(
                f"CrowdTransform: `{field}[{i}]` must be an albumentations transform (e.g. "
                f"{{_target_: albumentations.HorizontalFlip, p: 0.5}}), got {type(t).__name__}: {t!r}"
            )
    return out


def _compose(transforms: list[Any], seed: int | None) -> A.Compose:
    """A ``Compose`` that carries heads: points (``xy``) and boxes (``pascal_voc``, clipped), each with its id."""
    return A.Compose(
        transforms,
        keypoint_params=A.KeypointParams(format="xy", label_fields=["point_ids"], remove_invisible=True),
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["box_ids"], clip=True),
        seed=seed,
    )


def _to_chw(image: np.ndarray, source: np.ndarray | None = None) -> Tensor:
    """``(H, W, C)`` -> a ``(C, H, W)`` tensor *view* of the same memory (channels-last strides), without a copy.

    An image that is not C-contiguous, or that may share memory with ``source`` (the caller's input, e.g. a record's
    in-memory image passed through unchanged), is copied first, so samples never alias their inputs.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    if not image.flags.c_contiguous or (source is not None and np.may_share_memory(image, source)):
        image = np.array(image, order="C")
    return torch.from_numpy(image.transpose(2, 0, 1))


class CrowdTransform:
    """Turns ``(image, points, boxes)`` into a training or evaluation sample with its instance-map target.

    Args:
        geometric: albumentations transforms that move pixels, points and boxes (e.g. :class:`RandomScale`,
            ``A.HorizontalFlip``, ``A.Rotate``), applied before the target is built.
        photometric: albumentations transforms that change pixels only (e.g. ``A.ColorJitter``); empty by default,
            as in the original. They run in the same ``Compose``, after ``geometric``.
        crop_size: ``(height, width)`` of the random crop (padded with ``mean`` where the image is smaller), or
            ``None`` for the whole image (evaluation).
        mean: The dataset's RGB mean in [0, 1], the padding colour.
        target_mode: ``"after_augmentation"`` (map from the transformed boxes; iim's default) or ``"original"``
            (map made at full size, then moved with the image, as in the original code).
        instance_map: Keyword arguments of :func:`iim.targets.boxes_to_instance_map` (``max_half_size``, ``mode``).
        head_size: Keyword arguments of :func:`iim.targets.points_to_boxes`, for images without boxes.
        seed: Seed of the augmentation RNG (each DataLoader worker reseeds it, see :meth:`set_random_seed`).

    Calling it returns a dict with ``image`` :math:`(3, H, W)` uint8 RGB (not normalised; a channels-last view,
    never of the input image), ``instance_map`` :math:`(1, H, W)` uint8 in {0, 1}, ``points`` :math:`(N, 2)` and
    ``boxes`` :math:`(N, 4)` float32 of the heads whose point lies in the output, and ``head_ids`` :math:`(N,)`
    int64, their indices in the input.
    """

    def __init__(
        self,
        geometric: Sequence[A.BasicTransform] | None = None,
        photometric: Sequence[A.BasicTransform] | None = None,
        crop_size: Sequence[int] | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        target_mode: str = "after_augmentation",
        instance_map: dict[str, Any] | None = None,
        head_size: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        if target_mode not in TARGET_MODES:
            raise ValueError(f"CrowdTransform: `target_mode` must be one of {TARGET_MODES}, got {target_mode!r}")
        self.target_mode = target_mode
        self.instance_map = dict(instance_map or {})
        self.head_size = dict(head_size or {})
        unknown = set(self.instance_map) - {"max_half_size", "mode"}
        if unknown:
            raise ValueError(
                f"CrowdTransform: unknown `instance_map` keys {sorted(unknown)}; expected 'max_half_size', 'mode'"
            )
        boxes_to_instance_map(np.zeros((0, 4)), 1, 1, **self.instance_map)  # checks the values (ValueError)
        fill = tuple(255.0 * float(m) for m in mean)
        if len(fill) != 3:
            raise ValueError(f"CrowdTransform: `mean` needs 3 values (RGB in [0, 1]), got {mean}")
        self.geometric = _as_transforms(geometric, "geometric")
        self.photometric = _as_transforms(photometric, "photometric")
        augment = self.geometric + self.photometric
        self.augment = _compose(augment, seed) if augment else None
        self.crop_size: tuple[int, int] | None = None
        self.crop = None
        if crop_size is not None:
            size = tuple(int(v) for v in crop_size)
            if len(size) != 2 or min(size) <= 0:
                raise ValueError(f"CrowdTransform: `crop_size` must be (height, width) > 0 or null, got {crop_size}")
            self.crop_size = (size[0], size[1])
            crop = A.RandomCrop(*self.crop_size, pad_if_needed=True, pad_position="random",
                                border_mode=cv2.BORDER_CONSTANT, fill=fill, fill_mask=0)  # fmt: skip
            self.crop = _compose([crop], None if seed is None else seed + 1)

    def set_random_seed(self, seed: int) -> None:
        """Reseed the augmentation (called per DataLoader worker so that workers differ yet runs repeat)."""
        if self.augment is not None:
            self.augment.set_random_seed(seed)
        if self.crop is not None:
            self.crop.set_random_seed((seed + 1) % 2**32)

    def _heads(self, points: Any, boxes: Any, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Checked copies: points ``(N, 2)`` inside the image and boxes ``(N, 4)`` at least 1 px wide, clipped."""
        pts = np.array(points, dtype=np.float32).reshape(-1, 2)
        if boxes is None:
            bxs = points_to_boxes(pts, height, width, **self.head_size).astype(np.float32)
        else:
            bxs = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        if len(bxs) != len(pts):
            raise ValueError(f"CrowdTransform: {len(pts)} points but {len(bxs)} boxes; expected one box per point")
        bad = ~(np.isfinite(pts).all(axis=1) & np.isfinite(bxs).all(axis=1))
        bad |= (pts[:, 0] < 0) | (pts[:, 0] >= width) | (pts[:, 1] < 0) | (pts[:, 1] >= height)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"CrowdTransform: head {i} has point {pts[i].tolist()} and box {bxs[i].tolist()}; expected finite "
                f"pixel coordinates with the point inside the {width}x{height} image (0 <= x < W, 0 <= y < H)"
            )
        for lo, hi, c in ((0, 2, 0), (1, 3, 1)):  # degenerate extents: 1 px around the point (albumentations
            thin = bxs[:, hi] - bxs[:, lo] < 1  # rejects empty boxes)
            bxs[thin, lo], bxs[thin, hi] = pts[thin, c] - 0.5, pts[thin, c] + 0.5
        np.clip(bxs, 0, [width, height, width, height], out=bxs)
        return pts, bxs

    def _map(self, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """The instance map of ``boxes`` ``(N, 4)``, uint8 ``(height, width)``."""
        return boxes_to_instance_map(boxes, height, width, **self.instance_map).view(np.uint8)

    @staticmethod
    def _apply(
        compose: A.Compose, image: np.ndarray, points: np.ndarray, boxes: np.ndarray, ids: np.ndarray, mask: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
        """One ``Compose`` call on image, heads (joined by id afterwards) and, if given, the map."""
        data: dict[str, Any] = {"image": image, "keypoints": points, "point_ids": ids, "bboxes": boxes, "box_ids": ids}
        if mask is not None:
            data["mask"] = mask
        out = compose(**data)
        p_ids = np.asarray(out["point_ids"], dtype=np.int64).reshape(-1)
        b_ids = np.asarray(out["box_ids"], dtype=np.int64).reshape(-1)
        pts = np.asarray(out["keypoints"], dtype=np.float32).reshape(len(p_ids), -1)[:, :2] if len(p_ids) else ids[:0]
        bxs = np.asarray(out["bboxes"], dtype=np.float32).reshape(len(b_ids), -1)[:, :4] if len(b_ids) else ids[:0]
        pts, bxs = pts.reshape(-1, 2).astype(np.float32, copy=False), bxs.reshape(-1, 4).astype(np.float32, copy=False)
        joined = np.full((int(ids.max(initial=-1)) + 1, 4), np.nan, dtype=np.float32)
        joined[b_ids] = bxs
        joined = joined[p_ids]  # heads whose point survived, with their box
        lost = np.isnan(joined[:, 0])
        joined[lost] = np.concatenate([pts[lost] - 0.5, pts[lost] + 0.5], axis=1)
        return out["image"], pts, joined, p_ids, out.get("mask")

    def __call__(self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray | None = None) -> dict[str, Tensor]:
        """Transform one image and its heads; see the class docstring for the output.

        Args:
            image: RGB uint8 :math:`(H, W, 3)`.
            points: Head points :math:`(N, 2)`, pixels, inside the image.
            boxes: Head boxes :math:`(N, 4)` xyxy, or ``None`` (estimated from the points).
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"CrowdTransform: expected an RGB image (H, W, 3), got {getattr(image, 'shape', image)}")
        height, width = image.shape[:2]
        points, boxes = self._heads(points, boxes, height, width)
        ids = np.arange(len(points), dtype=np.int64)
        mask = self._map(boxes, height, width) if self.target_mode == "original" else None
        out_image = image
        if self.augment is not None:
            out_image, points, boxes, ids, mask = self._apply(self.augment, image, points, boxes, ids, mask)
        if mask is None:
            mask = self._map(boxes, out_image.shape[0], out_image.shape[1])
        if self.crop is not None:
            out_image, points, boxes, ids, mask = self._apply(self.crop, out_image, points, boxes, ids, mask)
        return {
            "image": _to_chw(out_image, source=image),
            "instance_map": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)[None]),
            "points": torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)),
            "boxes": torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32)),
            "head_ids": torch.from_numpy(ids),
        }

    def __repr__(self) -> str:
        names = [type(t).__name__ for t in self.geometric + self.photometric]
        return f"CrowdTransform(transforms={names}, crop_size={self.crop_size}, target_mode={self.target_mode!r})"
