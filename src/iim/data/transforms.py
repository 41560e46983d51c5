"""The augmentation pipeline (albumentations): geometry, instance-map targets built after it, crop, normalisation.

Training samples go through three stages:

1. geometry on the whole image (random scaling 0.8-1.2 and horizontal flip by default), moving head points and boxes
   with it -- points and boxes travel with an id each and are joined by id, never by position;
2. the independent instance map, built from the *transformed* boxes at the transformed size, so that resizing can
   never merge two instances (``target_mode="after_augmentation"``, iim's default). The original instead made the
   masks once at full size and resized them with the image (nearest), which can merge neighbours after
   downscaling; ``target_mode="original"`` reproduces that;
3. padding (images smaller than the crop, with the mean colour) and a random crop (512 x 1024 by default), applied to
   image, instance map, points and boxes together.

Samples stay uint8 (image and instance map): normalisation with the dataset's mean and std happens on the model's
device (:func:`iim.ops.normalize_image`), which keeps the workers and the host-to-device copies four times lighter.
Evaluation samples keep the whole image (tiled inference handles any size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from torch import Tensor

from iim.targets import boxes_to_instance_map, points_to_boxes

__all__ = ["CrowdTransform", "eval_transform", "train_transform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)


def _ensure_boxes(
    points: np.ndarray, boxes: np.ndarray | None, height: int, width: int, head_size: dict[str, Any]
) -> np.ndarray:
    if boxes is None:
        return points_to_boxes(points, height, width, **head_size).astype(np.float32)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    # albumentations rejects empty boxes: give degenerate ones a 1-pixel extent around their point
    small_w = boxes[:, 2] - boxes[:, 0] < 1
    small_h = boxes[:, 3] - boxes[:, 1] < 1
    boxes[small_w, 0] = points[small_w, 0] - 0.5
    boxes[small_w, 2] = points[small_w, 0] + 0.5
    boxes[small_h, 1] = points[small_h, 1] - 0.5
    boxes[small_h, 3] = points[small_h, 1] + 0.5
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


class CrowdTransform:
    """Turns ``(image, points, boxes)`` into a training or evaluation sample with its instance-map target.

    Args:
        geometric: albumentations transforms applied to the whole image before the target is built (scaling, flip).
        crop: albumentations transforms applied after the target is built (pad, crop); empty for evaluation.
        target_mode: ``"after_augmentation"`` (instance map from the transformed boxes; iim's default) or
            ``"original"`` (map made at full size, then resized with the image as in the original code).
        instance_map: Keyword arguments of :func:`iim.targets.boxes_to_instance_map` (``max_half_size``, ``mode``).
        head_size: Keyword arguments of :func:`iim.targets.points_to_boxes`, used for datasets without boxes.
        seed: Seed of the augmentation RNG (each DataLoader worker reseeds it, see :meth:`set_random_seed`).

    Calling it returns a dict with ``image`` :math:`(3, H, W)` uint8 RGB (not normalised), ``instance_map``
    :math:`(1, H, W)` uint8 in {0, 1}, ``points`` :math:`(N, 2)` float32 and ``boxes`` :math:`(N, 4)` float32 of
    the heads whose point lies in the output, and ``head_ids`` :math:`(N,)` int64, their indices in the input.
    """

    def __init__(
        self,
        geometric: Sequence[A.BasicTransform] = (),
        crop: Sequence[A.BasicTransform] = (),
        target_mode: str = "after_augmentation",
        instance_map: dict[str, Any] | None = None,
        head_size: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        if target_mode not in ("after_augmentation", "original"):
            raise ValueError(
                f"CrowdTransform: `target_mode` must be 'after_augmentation' or 'original', got {target_mode!r}"
            )
        params = {
            "keypoint_params": A.KeypointParams(format="xy", label_fields=["point_ids"], remove_invisible=True),
            "bbox_params": A.BboxParams(format="pascal_voc", label_fields=["box_ids"], clip=True),
        }
        self.geometric = A.Compose(list(geometric), seed=seed, **params) if geometric else None
        self.crop = A.Compose(list(crop), seed=seed, **params) if crop else None
        self.target_mode = target_mode
        self.instance_map = dict(instance_map or {})
        self.head_size = dict(head_size or {})

    def set_random_seed(self, seed: int) -> None:
        """Reseed the augmentation (called per DataLoader worker so that workers differ yet runs repeat)."""
        for compose in (self.geometric, self.crop):
            if compose is not None:
                compose.set_random_seed(seed)

    @staticmethod
    def _apply(
        compose: A.Compose,
        image: np.ndarray,
        points: np.ndarray,
        boxes: np.ndarray,
        ids: np.ndarray,
        mask: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        kwargs: dict[str, Any] = {
            "image": image,
            "keypoints": points,
            "point_ids": ids,
            "bboxes": boxes,
            "box_ids": ids,
        }
        if mask is not None:
            kwargs["mask"] = mask
        out = compose(**kwargs)
        p_ids = np.asarray(out["point_ids"], dtype=np.int64)
        b_ids = np.asarray(out["box_ids"], dtype=np.int64)
        pts = np.asarray(out["keypoints"], dtype=np.float32).reshape(-1, 2)[:, :2]
        bxs = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
        # keep heads whose point survived; their box is joined by id (a box cut by the border is clipped)
        lookup = np.full((int(ids.max(initial=-1)) + 1, 4), np.nan, dtype=np.float32)
        lookup[b_ids] = bxs
        keep_boxes = lookup[p_ids]
        lost = np.isnan(keep_boxes[:, 0])  # a point whose box albumentations filtered: a 1-pixel box around it
        keep_boxes[lost] = np.concatenate([pts[lost] - 0.5, pts[lost] + 0.5], axis=1)
        return out["image"], pts, keep_boxes, p_ids, out.get("mask")

    def _target(self, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        return boxes_to_instance_map(boxes, height, width, **self.instance_map).astype(np.uint8)

    def __call__(self, image: np.ndarray, points: np.ndarray, boxes: np.ndarray | None = None) -> dict[str, Tensor]:
        """Transform one image and its heads; see the class docstring for the output."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"CrowdTransform: expected an RGB image (H, W, 3), got shape {image.shape}")
        height, width = image.shape[:2]
        points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        boxes = _ensure_boxes(points, boxes, height, width, self.head_size)
        ids = np.arange(len(points), dtype=np.int64)
        mask = self._target(boxes, height, width) if self.target_mode == "original" else None
        if self.geometric is not None:
            image, points, boxes, ids, mask = self._apply(self.geometric, image, points, boxes, ids, mask)
        if mask is None:
            mask = self._target(boxes, image.shape[0], image.shape[1])
        if self.crop is not None:
            image, points, boxes, ids, mask = self._apply(self.crop, image, points, boxes, ids, mask)
        assert mask is not None
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "instance_map": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))[None],
            "points": torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)).reshape(-1, 2),
            "boxes": torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32)).reshape(-1, 4),
            "head_ids": torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64)),
        }


def train_transform(
    crop_size: Sequence[int] = (512, 1024),
    scale_range: Sequence[float] = (0.8, 1.2),
    hflip: float = 0.5,
    mean: Sequence[float] = IMAGENET_MEAN,
    target_mode: str = "after_augmentation",
    instance_map: dict[str, Any] | None = None,
    head_size: dict[str, Any] | None = None,
    seed: int | None = None,
) -> CrowdTransform:
    """The default training pipeline: random scale, horizontal flip, instance map, pad with the mean, random crop.

    Args:
        crop_size: ``(height, width)`` of the crop (512 x 1024 as the original).
        scale_range: ``(low, high)`` scale factors (0.8-1.2 as the original); ``(1, 1)`` disables scaling.
        hflip: Probability of a horizontal flip (0.5).
        mean: Dataset mean (RGB, [0, 1]); pads images smaller than the crop, so that padding normalises to zero.
        target_mode: See :class:`CrowdTransform`.
        instance_map: Keyword arguments of :func:`iim.targets.boxes_to_instance_map`.
        head_size: Keyword arguments of :func:`iim.targets.points_to_boxes` (datasets without boxes).
        seed: Seed of the augmentation RNG.
    """
    lo, hi = (float(s) for s in scale_range)
    if not 0 < lo <= hi:
        raise ValueError(f"train_transform: `scale_range` must be (low, high) with 0 < low <= high, got {scale_range}")
    ch, cw = (int(s) for s in crop_size)
    geometric: list[A.BasicTransform] = []
    if (lo, hi) != (1.0, 1.0):
        geometric.append(
            A.RandomScale(
                scale_limit=(lo - 1.0, hi - 1.0),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                p=1.0,
            )
        )
    if hflip > 0:
        geometric.append(A.HorizontalFlip(p=hflip))
    fill = tuple(float(m) * 255.0 for m in mean)
    crop = [
        A.PadIfNeeded(
            min_height=ch, min_width=cw, position="random", border_mode=cv2.BORDER_CONSTANT, fill=fill, fill_mask=0
        ),
        A.RandomCrop(height=ch, width=cw),
    ]
    return CrowdTransform(geometric, crop, target_mode, instance_map, head_size, seed)


def eval_transform(
    instance_map: dict[str, Any] | None = None,
    head_size: dict[str, Any] | None = None,
) -> CrowdTransform:
    """Evaluation: the whole image with its instance map (for the validation loss)."""
    return CrowdTransform((), (), "after_augmentation", instance_map, head_size)
