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

:func:`train_transform` runs the three stages *window first* (:class:`RandomScaleCrop`): it draws the scale and the
crop window in the scaled image first and resamples only the part of the image that lands in the crop (one resize of
the crop's pixels instead of the whole image, no separate pad and crop copies); points and box corners are then moved
in one compiled pass (:mod:`iim.data._geometry`) with the arithmetic of the transforms' own keypoint functions (the
same result as albumentations' keypoint processor, bit for bit, tested, without its per-call format conversions),
unfiltered, so every head's box is known at the scaled resolution and the instance map is still built there, from
all transformed boxes, and only the crop's window of it is painted. :class:`CrowdTransform`
also runs any other albumentations pipeline stage by stage, as described above.

Samples stay uint8 (image and instance map); the image is a ``(3, H, W)`` view of the ``(H, W, 3)`` pixels
(channels-last strides, no transposing copy), which :func:`iim.data.collate_crowd` stacks into a
``torch.channels_last`` batch. Normalisation with the dataset's mean and std happens on the model's
device (:func:`iim.ops.normalize_image`), which keeps the workers and the host-to-device copies four times lighter.
Evaluation samples keep the whole image (tiled inference handles any size).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.core.bbox_utils import denormalize_bboxes, normalize_bboxes
from albumentations.core.type_definitions import Targets
from torch import Tensor

from iim.data import _geometry
from iim.targets import NeighbourHints, boxes_to_instance_map, neighbour_hints, points_to_boxes
from iim.targets import _kernels as target_kernels

__all__ = ["CrowdTransform", "RandomScaleCrop", "eval_transform", "train_transform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
# Neighbour candidates per head kept in a per-image cache (see ``CrowdTransform.__call__``): 16 leave 0.3 % of the
# heads of ShanghaiTech Part A to the full neighbour search at scales 0.8-1.2 (64 bytes per head).
HINT_CANDIDATES = 16
_MAP_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(boxes_to_instance_map).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY or name == "max_half_size"
}


def _ensure_boxes(
    points: np.ndarray, boxes: np.ndarray | None, height: int, width: int, head_size: dict[str, Any]
) -> np.ndarray:
    if boxes is None:
        return points_to_boxes(points, height, width, **head_size).astype(np.float32)
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)  # a copy
    if len(boxes) != len(points):
        raise ValueError(f"CrowdTransform: {len(points)} points but {len(boxes)} boxes; expected one box per point")
    # albumentations rejects empty boxes: degenerate ones get a 1-pixel extent around their point; then clipped
    bad = _geometry.fix_boxes(points, boxes, int(width), int(height))
    if bad >= 0:
        raise ValueError(
            f"CrowdTransform: head {bad} has a point or box that is not finite (point {points[bad].tolist()}, box "
            f"{boxes[bad].tolist()}); expected finite pixel coordinates"
        )
    return boxes


def _draw(transform: A.BasicTransform, data: dict[str, Any]) -> dict[str, Any]:
    """Draw ``transform``'s parameters for ``data`` as its ``__call__`` does, without applying it.

    The same draws in the same order (``should_apply``, ``get_params``, ``get_params_dependent_on_data``) from the
    transform's RNG, and the result stored where :meth:`~A.BasicTransform.get_applied_params` reads it. Returns the
    parameters, or ``{}`` when the transform is not applied this time.
    """
    transform.params = {}
    if transform.should_apply():
        params = transform.update_transform_params(transform.get_params(), data)
        params.update(transform.get_params_dependent_on_data(params, data))
        transform.params = params
    return transform.params


class _Shape:
    """Stands in for an image where a transform's parameter draws read only its ``shape``."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def _fill_array(fill: float | Sequence[float], dtype: np.dtype, channels: int) -> np.ndarray:
    """A fill value as an array of ``dtype`` with one entry per channel (rounded and saturated like OpenCV's)."""
    values = np.broadcast_to(np.asarray(fill, dtype=np.float64), (channels,))
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


class RandomScaleCrop(A.DualTransform):
    """Random scale, then a random crop of ``size``, padded where the scaled image is smaller -- window first.

    In distribution this is ``A.RandomScale`` (a factor uniform in ``scale_range``; the scaled size is
    ``int(H * s)`` x ``int(W * s)``), then ``A.PadIfNeeded(position="random")`` and ``A.RandomCrop`` (a window
    uniform over the positions inside the scaled image; a random offset in the padding). But the window is drawn
    before any pixel moves, and only the region of the input under it is resized, straight into the output: the
    scaled image is never materialised, the work is one resize of ``size`` pixels (instead of resizing the whole
    image, then copying for the pad and the crop).

    The region is the window's preimage widened to whole input pixels, and it is resized onto the window exactly, so
    the effective scale of a sample (on each axis) differs from ``s`` by at most two input pixels over the window's
    extent (under 0.5 % for a 512 px window), and where the window meets the scaled image's border the two borders
    coincide (a window that spans an axis, as when padding, is scaled by exactly ``int(W * s) / W``). Keypoints
    follow the resize's own pixel-centre mapping, ``x' = (x + 0.5 - x_0) k - 0.5`` (albumentations' ``RandomScale``
    uses ``x' = x s``, half a pixel off at the far end), boxes (edges) ``x' = (x - x_0) k``.

    The applied parameters (:meth:`get_applied_params`) give the scaled size (``scaled_shape``), the window in the
    scaled image (``window``, ``x0, y0, x1, y1``), its input region (``region``) and where it sits in the output
    (``offset``, ``x, y``): a pixel ``u`` of the output is pixel ``u - offset + window[:2]`` of the scaled image.

    Args:
        size: ``(height, width)`` of the output.
        scale_range: ``(low, high)`` of the scale factor, ``0 < low <= high``.
        interpolation: OpenCV interpolation of images.
        mask_interpolation: OpenCV interpolation of masks.
        fill: Padding value of images (a number or one per channel; rounded for integer images).
        fill_mask: Padding value of masks.
        p: Probability of applying the transform (1: always; otherwise samples keep their size).

    Targets:
        image, mask, bboxes, keypoints

    Shape:
        - image: :math:`(H, W)` or :math:`(H, W, C)`
        - output: :math:`(h, w)` or :math:`(h, w, C)` with ``(h, w) = size``
    """

    _targets = (Targets.IMAGE, Targets.MASK, Targets.BBOXES, Targets.KEYPOINTS)

    def __init__(
        self,
        size: Sequence[int],
        scale_range: Sequence[float] = (0.8, 1.2),
        interpolation: int = cv2.INTER_LINEAR,
        mask_interpolation: int = cv2.INTER_NEAREST,
        fill: float | Sequence[float] = 0.0,
        fill_mask: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        height, width = (int(v) for v in size)
        low, high = (float(v) for v in scale_range)
        if height <= 0 or width <= 0:
            raise ValueError(f"RandomScaleCrop: `size` must be (height, width) > 0, got {size}")
        if not 0 < low <= high:
            raise ValueError(
                f"RandomScaleCrop: `scale_range` must be (low, high) with 0 < low <= high, got {scale_range}"
            )
        self.size = (height, width)
        self.scale_range = (low, high)
        self.interpolation = interpolation
        self.mask_interpolation = mask_interpolation
        self.fill = fill
        self.fill_mask = fill_mask
        self._fill_rows: dict[tuple[Any, ...], np.ndarray] = {}

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "scale_range", "interpolation", "mask_interpolation", "fill", "fill_mask")

    def _axis(self, extent: int, scaled: int, crop: int) -> tuple[int, int, int, int]:
        """Window start and length in the scaled image, offset in the output, and the input region's start and end,
        on one axis (the draws of ``PadIfNeeded(position="random")`` and ``RandomCrop``)."""
        if scaled >= crop:
            start, length, offset = int((scaled - crop + 1) * self.py_random.random()), crop, 0
        else:
            start, length, offset = 0, scaled, self.py_random.randint(0, crop - scaled)
        lo = start * extent // scaled
        hi = min(extent, -(-(start + length) * extent // scaled))
        return start, offset, lo, max(hi, lo + 1)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        scale = self.py_random.uniform(*self.scale_range)
        scaled_h, scaled_w = max(int(height * scale), 1), max(int(width * scale), 1)
        y0, off_y, ry0, ry1 = self._axis(height, scaled_h, self.size[0])
        x0, off_x, rx0, rx1 = self._axis(width, scaled_w, self.size[1])
        win_h, win_w = min(scaled_h, self.size[0]), min(scaled_w, self.size[1])
        return {
            "scale": scale,
            "scaled_shape": (scaled_h, scaled_w),
            "window": (x0, y0, x0 + win_w, y0 + win_h),
            "region": (rx0, ry0, rx1, ry1),
            "offset": (off_x, off_y),
        }

    def _resample(
        self,
        img: np.ndarray,
        window: tuple[int, int, int, int],
        region: tuple[int, int, int, int],
        offset: tuple[int, int],
        interpolation: int,
        fill: float | Sequence[float],
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The window's region of ``img`` resized onto the window, padded around it, into ``out`` (else a new array)."""
        height, width = self.size
        win_w, win_h = window[2] - window[0], window[3] - window[1]
        src = img[region[1] : region[3], region[0] : region[2]]
        if out is None:
            out = np.empty((height, width, *img.shape[2:]), dtype=img.dtype)
        if (win_h, win_w) == (height, width):
            res = cv2.resize(src, (width, height), dst=out, interpolation=interpolation)
            if res is not out and not np.may_share_memory(res, out):
                out[...] = res.reshape(out.shape)
            return out
        ox, oy = offset
        # the padding, copied from one filled row (a per-pixel broadcast of the fill colour is several times slower),
        # made once per fill, dtype and channel count
        key = (repr(fill), img.dtype.str, width, img.shape[2:])
        row = self._fill_rows.get(key)
        if row is None:
            row = np.empty((width, *img.shape[2:]), dtype=img.dtype)
            row[...] = _fill_array(fill, img.dtype, img.shape[2] if img.ndim == 3 else 1).reshape(img.shape[2:] or (1,))
            self._fill_rows[key] = row
        out[:oy] = row
        out[oy + win_h :] = row
        out[oy : oy + win_h, :ox] = row[:ox]
        out[oy : oy + win_h, ox + win_w :] = row[ox + win_w :]
        dst = out[oy : oy + win_h, ox : ox + win_w]
        res = cv2.resize(src, (win_w, win_h), dst=dst, interpolation=interpolation)
        if res is not dst and not np.may_share_memory(res, out):  # OpenCV wrote elsewhere (not expected for a view)
            dst[...] = res.reshape(dst.shape)
        return out

    def apply(self, img: np.ndarray, window: Any, region: Any, offset: Any, **params: Any) -> np.ndarray:
        return self._resample(img, window, region, offset, self.interpolation, self.fill)

    def apply_to_mask(self, mask: np.ndarray, window: Any, region: Any, offset: Any, **params: Any) -> np.ndarray:
        return self._resample(mask, window, region, offset, self.mask_interpolation, self.fill_mask)

    @staticmethod
    def _factors(window: Any, region: Any) -> tuple[float, float]:
        return (window[2] - window[0]) / (region[2] - region[0]), (window[3] - window[1]) / (region[3] - region[1])

    def apply_to_keypoints(
        self, keypoints: np.ndarray, window: Any, region: Any, offset: Any, **params: Any
    ) -> np.ndarray:
        kx, ky = self._factors(window, region)
        out = keypoints.copy()
        out[:, 0] = (keypoints[:, 0] + 0.5 - region[0]) * kx - 0.5 + offset[0]
        out[:, 1] = (keypoints[:, 1] + 0.5 - region[1]) * ky - 0.5 + offset[1]
        if out.shape[1] > 4:  # albumentations' keypoint scale column
            out[:, 4] = keypoints[:, 4] * max(kx, ky)
        return out

    def apply_to_bboxes(
        self, bboxes: np.ndarray, window: Any, region: Any, offset: Any, shape: Any, **params: Any
    ) -> np.ndarray:
        if not bboxes.size:
            return bboxes
        kx, ky = self._factors(window, region)
        out = denormalize_bboxes(bboxes.copy(), shape[:2])
        out[:, [0, 2]] = (out[:, [0, 2]] - region[0]) * kx + offset[0]
        out[:, [1, 3]] = (out[:, [1, 3]] - region[1]) * ky + offset[1]
        return normalize_bboxes(out, self.size)


def _to_chw(image: np.ndarray, source: np.ndarray | None = None) -> Tensor:
    """``(H, W, C)`` -> a ``(C, H, W)`` tensor *view* of the same memory (channels-last strides), without a copy.

    The pixels stay interleaved (``stride(0) == 1``): :func:`iim.data.collate_crowd` copies such images into a
    ``torch.channels_last`` batch, one plain copy per image, so no transposition is ever paid. An image that may
    share memory with ``source`` (the caller's input, e.g. a record's in-memory image passed through unchanged) is
    copied first, so samples never alias their inputs.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    if not image.flags.c_contiguous or (source is not None and np.may_share_memory(image, source)):
        image = np.array(image, order="C")
    return torch.from_numpy(image.transpose(2, 0, 1))  # numpy's transpose: a view, and one torch call


class CrowdTransform:
    """Turns ``(image, points, boxes)`` into a training or evaluation sample with its instance-map target.

    Args:
        geometric: albumentations transforms applied to the whole image before the target is built (scaling, flip).
            If the first one is a :class:`RandomScaleCrop`, the pipeline runs window first (see the module
            docstring): the others must be ``A.HorizontalFlip`` and ``crop`` must be empty.
        crop: albumentations transforms applied after the target is built (pad, crop); empty for evaluation.
        target_mode: ``"after_augmentation"`` (instance map from the transformed boxes; iim's default) or
            ``"original"`` (map made at full size, then resized with the image as in the original code).
        instance_map: Keyword arguments of :func:`iim.targets.boxes_to_instance_map` (``max_half_size``, ``mode``).
        head_size: Keyword arguments of :func:`iim.targets.points_to_boxes`, used for datasets without boxes.
        seed: Seed of the augmentation RNG (each DataLoader worker reseeds it, see :meth:`set_random_seed`).

    Calling it returns a dict with ``image`` :math:`(3, H, W)` uint8 RGB (not normalised; a channels-last view of
    ``(H, W, 3)`` memory, never of the input image), ``instance_map``
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
        geometric, crop = list(geometric), list(crop)
        self.window_first = bool(geometric) and isinstance(geometric[0], RandomScaleCrop)
        if self.window_first:
            if crop or not all(isinstance(t, A.HorizontalFlip) for t in geometric[1:]):
                raise ValueError(
                    "CrowdTransform: a pipeline that starts with RandomScaleCrop may only add A.HorizontalFlip, and "
                    f"`crop` must be empty; got {[type(t).__name__ for t in geometric + crop]}"
                )
            # Compose holds the transforms and their seeded RNG; ``_window_first`` draws their parameters itself and
            # applies them directly (Compose's per-call bookkeeping and its keypoint processor's format conversions
            # cost as much as the flip).
            self.geometric = A.Compose(geometric, seed=seed, is_check_shapes=False)
            self.crop = None
        else:
            params = {
                "keypoint_params": A.KeypointParams(format="xy", label_fields=["point_ids"], remove_invisible=True),
                "bbox_params": A.BboxParams(format="pascal_voc", label_fields=["box_ids"], clip=True),
            }
            self.geometric = A.Compose(geometric, seed=seed, **params) if geometric else None
            self.crop = A.Compose(crop, seed=seed, **params) if crop else None
        self.target_mode = target_mode
        self.instance_map = dict(instance_map or {})
        self.head_size = dict(head_size or {})
        unknown = set(self.instance_map) - {"max_half_size", "mode"}
        if unknown:
            raise ValueError(
                f"CrowdTransform: unknown `instance_map` keys {sorted(unknown)}; expected 'max_half_size', 'mode'"
            )
        boxes_to_instance_map(np.zeros((0, 4)), 1, 1, **self.instance_map)  # checks the values (ValueError)
        settings = {**_MAP_DEFAULTS, **self.instance_map}
        self._max_half_size = int(settings["max_half_size"])
        self._separate = settings["mode"] == "separate"

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

    def _target(self, boxes: np.ndarray, height: int, width: int, hints: NeighbourHints | None = None) -> np.ndarray:
        """The whole instance map of ``boxes`` (``(N, 4)``) as uint8 ``(height, width)``."""
        return boxes_to_instance_map(boxes, height, width, **self.instance_map, hints=hints).view(np.uint8)

    def _heads(
        self, points: Any, boxes: Any, height: int, width: int, cache: dict[str, Any] | None
    ) -> tuple[np.ndarray, np.ndarray, NeighbourHints | None]:
        """Points ``(N, 2)`` float32, checked boxes ``(N, 4)`` float32 and (window first, with a cache) their
        neighbour hints; taken from ``cache`` when it holds them for these very ``points`` and ``boxes`` objects and
        this image size, else made and stored there."""
        if cache is not None:
            entry = cache.get("heads")
            if entry is not None and entry[0] is points and entry[1] is boxes and entry[2] == (height, width):
                return entry[3], entry[4], entry[5]
        pts = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 2)
        bxs = _ensure_boxes(pts, boxes, height, width, self.head_size)
        hints = None
        if cache is not None:
            # kept as they are (writable: read-only arrays would compile every kernel a second time); nothing here
            # writes to them and no sample shares their memory
            hints = neighbour_hints(bxs, HINT_CANDIDATES) if self.window_first else None
            cache["heads"] = (points, boxes, (height, width), pts, bxs, hints)
        return pts, bxs, hints

    def _window_first(
        self,
        image: np.ndarray,
        points: np.ndarray,
        boxes: np.ndarray,
        mask: np.ndarray | None,
        hints: NeighbourHints | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The window-first pipeline: draw the scale, window and flips, move the heads and paint the instance map's
        window (one compiled call, :func:`iim.data._geometry.heads_and_map`, with the image's neighbour ``hints``
        if given), resample the window.

        The parameters are drawn by the transforms themselves, from the RNG that ``Compose`` seeded, in the order
        and with the draws of a ``Compose`` call (:func:`_draw`), so samples are those of calling it; the pixels go
        straight to OpenCV (a flipped sample is resampled into its output, then flipped in place) and
        the heads through one compiled pass instead of albumentations' per-call bookkeeping.
        """
        assert self.geometric is not None
        scale_crop, *flips = self.geometric.transforms
        params = _draw(scale_crop, {"image": image})
        if params:
            (sh, sw), (wx0, wy0, wx1, wy1) = params["scaled_shape"], params["window"]
            region, (ox, oy) = params["region"], params["offset"]
            height, width = scale_crop.size
        else:  # not applied (p < 1): the frame is the image itself
            (sh, sw), (wx0, wy0, wx1, wy1), region, (ox, oy) = image.shape[:2], (0, 0, 0, 0), (0, 0, 1, 1), (0, 0)
            height, width = image.shape[:2]
        shape = (height, width, *image.shape[2:])
        flipped = False
        for flip in flips:  # an A.HorizontalFlip each (checked in __init__); an even number cancels out
            flipped ^= bool(_draw(flip, {"image": _Shape(shape)}))  # a flip's draws read the shape only
        # where output pixel (0, 0) sits in the scaled (and possibly flipped) image
        frame_x, frame_y = wx0 - ox, wy0 - oy
        if flipped:
            frame_x = sw - width - frame_x
        kx, ky = scale_crop._factors((wx0, wy0, wx1, wy1), region) if params else (1.0, 1.0)
        no_hints = (target_kernels.NO_CANDIDATES, target_kernels.NO_REACH)
        cands, reach = (hints.candidates, hints.reach) if hints is not None else no_hints
        geometry = (
            bool(params),
            int(region[0]),
            int(region[1]),
            float(kx),
            float(ky),
            int(ox),
            int(oy),
            int(width) if flipped else 0,
            int(frame_x),
            int(frame_y),
            int(width),
            int(height),
        )
        new_mask, pts, bxs, ids = _geometry.heads_and_map(
            points,
            boxes,
            geometry,
            int(sh),
            int(sw),
            mask is None,
            self._max_half_size,
            self._separate,
            cands,
            reach,
            float(min(kx, ky)),
        )
        if mask is None:
            mask = new_mask
        else:
            mask = self._pixels(scale_crop, mask, params, flipped, scale_crop.mask_interpolation, scale_crop.fill_mask)
        out_image = self._pixels(scale_crop, image, params, flipped, scale_crop.interpolation, scale_crop.fill)
        return out_image, pts, bxs, ids, mask

    def _pixels(
        self,
        scale_crop: RandomScaleCrop,
        img: np.ndarray,
        params: dict[str, Any],
        flipped: bool,
        interpolation: int,
        fill: float | Sequence[float],
    ) -> np.ndarray:
        """An image or mask through the drawn scale-and-crop and flip: a new array (``img`` itself when neither
        applies; the caller copies it then)."""
        if not params:
            return cv2.flip(img, 1).reshape(img.shape) if flipped else img
        window, region, offset = params["window"], params["region"], params["offset"]
        out = scale_crop._resample(img, window, region, offset, interpolation, fill)
        if flipped:  # in place: OpenCV's horizontal flip swaps from both ends of each row
            cv2.flip(out, 1, dst=out)
        return out

    def __call__(
        self,
        image: np.ndarray,
        points: np.ndarray,
        boxes: np.ndarray | None = None,
        *,
        cache: dict[str, Any] | None = None,
    ) -> dict[str, Tensor]:
        """Transform one image and its heads; see the class docstring for the output.

        Args:
            image: RGB uint8 :math:`(H, W, 3)`.
            points: Head points :math:`(N, 2)`, pixels.
            boxes: Head boxes :math:`(N, 4)` xyxy, or ``None`` (estimated from the points).
            cache: A dict the caller keeps for this image across calls (:class:`~iim.data.CrowdDataset` keeps one
                per record), or ``None``. The checked heads and, for the window-first pipeline, their neighbour
                hints (:func:`iim.targets.neighbour_hints`: the instance map of every later sample is the same,
                built faster) are made on the first call and reused while ``points`` and ``boxes`` are the same
                objects (so do not modify them in place). About 90 bytes per head.
        """
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"CrowdTransform: expected an RGB image (H, W, 3), got shape {image.shape}")
        height, width = image.shape[:2]
        points, boxes, hints = self._heads(points, boxes, height, width, cache)
        mask = self._target(boxes, height, width, hints) if self.target_mode == "original" else None
        if self.window_first:
            out_image, points, boxes, ids, mask = self._window_first(image, points, boxes, mask, hints)
        else:
            out_image, ids = image, np.arange(len(points), dtype=np.int64)
            if self.geometric is not None:
                out_image, points, boxes, ids, mask = self._apply(self.geometric, out_image, points, boxes, ids, mask)
            if mask is None:
                mask = self._target(boxes, out_image.shape[0], out_image.shape[1])
            if self.crop is not None:
                out_image, points, boxes, ids, mask = self._apply(self.crop, out_image, points, boxes, ids, mask)
            if self.geometric is None and self.crop is None:  # the caller's (or the cache's) arrays: copied
                points, boxes = np.array(points, dtype=np.float32), np.array(boxes, dtype=np.float32)
        assert mask is not None
        return {
            "image": _to_chw(out_image, source=image),
            # shaped in numpy, one torch call per tensor (inside the pipeline each torch call measured 40-60 us,
            # ten times its cost in a tight loop)
            "instance_map": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)[None]),
            "points": torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 2)),
            "boxes": torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32).reshape(-1, 4)),
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

    It runs window first (:class:`RandomScaleCrop`, then ``A.HorizontalFlip``): the same distribution of samples as
    ``RandomScale -> HorizontalFlip -> (instance map) -> PadIfNeeded(position="random") -> RandomCrop``, with only the
    crop's pixels resampled.

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
    fill = tuple(float(m) * 255.0 for m in mean)
    geometric: list[A.BasicTransform] = [
        RandomScaleCrop(
            (ch, cw),
            scale_range=(lo, hi),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=cv2.INTER_NEAREST,
            fill=fill,
            fill_mask=0,
        )
    ]
    if hflip > 0:
        geometric.append(A.HorizontalFlip(p=hflip))
    return CrowdTransform(geometric, (), target_mode, instance_map, head_size, seed)


def eval_transform(
    instance_map: dict[str, Any] | None = None,
    head_size: dict[str, Any] | None = None,
) -> CrowdTransform:
    """Evaluation: the whole image with its instance map (for the validation loss)."""
    return CrowdTransform((), (), "after_augmentation", instance_map, head_size)
