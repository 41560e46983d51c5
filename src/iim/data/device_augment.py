"""Augmentation of training batches on their device, with kornia.

:class:`CrowdDataModule <iim.data.CrowdDataModule>` runs it in ``on_after_batch_transfer`` (after the batch reached
the GPU, before the task normalises it), in training only. It takes a list of ``kornia.augmentation`` modules:

- photometric ones (``ColorJiggle``, ``RandomGaussianBlur``, ``RandomGrayscale``, ``RandomGamma``,
  ``RandomGaussianNoise``, any ``IntensityAugmentationBase2D``) change the pixels only;
- geometric ones are accepted only where they move the instance maps, points and boxes with the image exactly and
  keep every instance its own component: the flips (``RandomHorizontalFlip``, ``RandomVerticalFlip``), applied to
  image, map, points and boxes together by ``kornia.augmentation.AugmentationSequential``. A resampling warp
  (rotation, affine, crop) would resample the binary map and could join two instances, so it belongs in the
  albumentations pipeline, before the map is built.

The batch stays uint8 in [0, 255] (the images go through float [0, 1] and are rounded back), so everything after it
is the same with or without device augmentation. Its randomness comes from its own seed: call ``k`` runs inside
``torch.random.fork_rng`` with torch seeded from ``(seed, k)``, so it repeats from run to run and leaves the training
RNG untouched (and the module holds only integers, so it pickles for spawned DDP processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor, nn

__all__ = ["DeviceAugmentation"]

# Geometric kornia augmentations that move every pixel to a pixel (no resampling): instance maps stay exact.
EXACT_GEOMETRIC = (K.RandomHorizontalFlip, K.RandomVerticalFlip)


def _padded(rows: Sequence[Tensor], width: int, like: Tensor) -> tuple[Tensor, list[int]]:
    """Per-image ``(N_i, width)`` tensors as one zero-padded ``(B, max N_i, width)`` float tensor, and the ``N_i``."""
    counts = [int(r.shape[0]) for r in rows]
    out = like.new_zeros((len(rows), max(counts, default=0), width), dtype=torch.float32)
    for i, r in enumerate(rows):
        out[i, : counts[i]] = r.to(device=like.device, dtype=torch.float32)
    return out, counts


class DeviceAugmentation(nn.Module):
    """A list of ``kornia.augmentation`` modules applied to a whole training batch on its device.

    Args:
        transforms: kornia augmentations (photometric, or the flips of :data:`EXACT_GEOMETRIC`).
        seed: Seed of the augmentation's draws (``None``: drawn from torch's global RNG instead).

    Raises:
        TypeError: An entry is not a kornia augmentation.
        ValueError: An entry is a geometric augmentation that resamples (it would corrupt the instance maps).

    Calling it on a batch of :func:`iim.data.collate_crowd` returns a new batch dict with ``image``
    :math:`(B, 3, H, W)` uint8 and ``instance_map`` :math:`(B, 1, H, W)` augmented, and ``points``
    (a list of :math:`(N_i, 2)`) and ``boxes`` (a list of :math:`(N_i, 4)`, xyxy with exclusive ends) moved with
    them; other keys pass through.
    """

    def __init__(self, transforms: Sequence[nn.Module] = (), seed: int | None = None) -> None:
        super().__init__()
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not isinstance(t, K.base._AugmentationBase):
                raise TypeError(
                    f"DeviceAugmentation: `device_augment[{i}]` must be a kornia.augmentation module (e.g. "
                    f"{{_target_: kornia.augmentation.ColorJiggle, brightness: 0.2}}), got {type(t).__name__}"
                )
            if isinstance(t, K.GeometricAugmentationBase2D) and not isinstance(t, EXACT_GEOMETRIC):
                raise ValueError(
                    f"DeviceAugmentation: `device_augment[{i}]` is {type(t).__name__}, a geometric augmentation that "
                    "resamples; it would resample the binary instance maps and could join heads. Only "
                    f"{[c.__name__ for c in EXACT_GEOMETRIC]} are allowed here; put warps in "
                    "data.train_transform.geometric (albumentations), before the instance map is built"
                )
        self.transforms = transforms
        self.geometric = any(isinstance(t, EXACT_GEOMETRIC) for t in transforms)
        keys = ["input", "mask", "keypoints"] if self.geometric else ["input"]
        self.sequential = K.AugmentationSequential(*transforms, data_keys=keys) if transforms else None
        self.seed = seed
        self._calls = 0

    def __len__(self) -> int:
        return len(self.transforms)

    def reseed(self, seed: int) -> None:
        """Restart the draws from ``seed`` (e.g. the run's seed plus the process rank)."""
        self.seed = seed
        self._calls = 0

    def _run(self, image: Tensor, batch: Mapping[str, Any]) -> dict[str, Any]:
        assert self.sequential is not None
        if not self.geometric:
            return {"image": self.sequential(image)}
        # points, and the boxes' centres in the points' convention (pixel centres at integers); a flip keeps sizes
        boxes = [b.to(torch.float32) for b in batch["boxes"]]
        centres = [(b[:, :2] + b[:, 2:]) / 2 - 0.5 for b in boxes]
        points, counts = _padded([torch.cat([p.to(c), c]) for p, c in zip(batch["points"], centres)], 2, image)
        out_image, out_map, points = self.sequential(image, batch["instance_map"], points)
        out_points, out_boxes = [], []
        for p, n, q, b in zip(points, counts, batch["points"], boxes):
            k = n // 2
            half = (b[:, 2:] - b[:, :2]).to(p.device) / 2
            centre = p[k:n] + 0.5
            out_points.append(p[:k].to(q.dtype))
            out_boxes.append(torch.cat([centre - half, centre + half], dim=1).to(q.dtype))
        return {
            "image": out_image,
            "instance_map": out_map.to(batch["instance_map"].dtype),
            "points": out_points,
            "boxes": out_boxes,
        }

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Augment a training batch (see the class docstring); an empty list returns it unchanged."""
        if self.sequential is None:
            return dict(batch)
        image = batch["image"]
        if image.dtype != torch.uint8 or image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(
                f"DeviceAugmentation: expected `image` as uint8 (B, 3, H, W), got {image.dtype} {tuple(image.shape)}"
            )
        devices = [image.device.index or 0] if image.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if self.seed is not None:
                torch.manual_seed((self.seed * 1_000_003 + self._calls) % 2**63)
                self._calls += 1
            out = self._run(image.float().div_(255.0), batch)
        out["image"] = out["image"].mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
        if image.is_contiguous(memory_format=torch.channels_last):  # the layout the pipeline's batches come in
            out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
        return {**batch, **out}

    def extra_repr(self) -> str:
        return f"seed={self.seed}"
