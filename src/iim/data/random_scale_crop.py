"""RandomScaleCrop: a random scale and a random crop in one transform that resamples only the crop's window.

An ordinary albumentations transform (image, mask, bboxes, keypoints), for the ``geometric`` list of
:class:`~iim.data.CrowdTransform` in place of ``RandomScale`` + the crop, where images are much larger than the
crop (NWPU-Crowd, UCF-QNRF, JHU-Crowd++): a 512 x 1024 crop is 6 % of a scaled 2048 x 3072 image, and resizing the
rest costs more than decoding it. The instance map is then built on the crop, from the boxes clipped to it: a head
outside the crop no longer shrinks its neighbours inside, and a box cut by the border is centred on its visible
part (``RandomScale`` first, the default, builds the map on the whole scaled image as the original does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.core.bbox_utils import denormalize_bboxes, normalize_bboxes
from albumentations.core.type_definitions import Targets

__all__ = ["RandomScaleCrop"]


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
    ``int(H * s)`` x ``int(W * s)``), then ``A.RandomCrop(pad_if_needed=True, pad_position="random")`` (a window
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

    Its parameters give the scaled size (``scaled_shape``), the window in the scaled image (``window``,
    ``x0, y0, x1, y1``), its input region (``region``) and where it sits in the output (``offset``, ``x, y``): a pixel
    ``u`` of the output is pixel ``u - offset + window[:2]`` of the scaled image.

    Args:
        size: ``(height, width)`` of the output.
        scale_range: ``(low, high)`` of the scale factor, ``0 < low <= high``.
        interpolation: OpenCV interpolation of images.
        mask_interpolation: OpenCV interpolation of masks.
        fill: Padding value of images (a number or one per channel; rounded for integer images).
        mean: The dataset's RGB mean in [0, 1]; if given, the padding colour is ``255 * mean`` (overriding
            ``fill``), so that padding normalises to zero as :class:`~iim.data.CrowdTransform`'s does. In YAML:
            ``mean: ${data.mean}``.
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
        mean: Sequence[float] | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        if mean is not None:
            if len(mean) != 3:
                raise ValueError(f"RandomScaleCrop: `mean` needs 3 values (RGB in [0, 1]), got {mean}")
            fill = tuple(255.0 * float(m) for m in mean)
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
        on one axis (the draws of ``RandomCrop(pad_if_needed=True, pad_position="random")``)."""
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
