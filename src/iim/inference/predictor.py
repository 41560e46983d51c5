"""The Predictor: heads (points, boxes, count) in images of any size, from a trained network, on CPU or GPU.

    from iim import Predictor

    predictor = Predictor.from_checkpoint("logs/train/runs/<run>/checkpoints/last.ckpt", device="auto")
    result = predictor.predict("crowd.jpg")            # a path, a numpy RGB array, a PIL image or a tensor
    result.points, result.boxes, result.count
    results = predictor.predict(["a.jpg", "b.png"])    # a list gives a list

Images run through :func:`iim.ops.tiled_inference` (the original's 512 x 1024 tiles, so any size fits in memory),
then ``confidence >= threshold`` and 4-connected components (:func:`iim.ops.extract_instances`), exactly as
``iim-eval`` and validation do.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iim.inference.images import ImageInput, as_rgb_array
from iim.models.network import IIMNet
from iim.ops import IMAGENET_MEAN, IMAGENET_STD, SPLIT_MIN_DISTANCE, extract_instances, normalize_image, tiled_inference
from iim.validation import as_threshold_offset

__all__ = ["Prediction", "Predictor", "resolve_device"]

_PRECISIONS = ("32", "16-mixed", "bf16-mixed")


@dataclass
class Prediction:
    """The heads found in one image.

    Attributes:
        points: Head positions (component centroids), :math:`(N, 2)` float64 ``(x, y)`` pixels.
        boxes: Component boxes, :math:`(N, 4)` float64 ``(x1, y1, x2, y2)`` with exclusive ends.
        areas: Component areas in pixels, :math:`(N,)` int64.
        image_size: ``(height, width)`` of the image.
        confidence: The confidence map :math:`(H, W)` float32, when asked for (``return_maps=True``).
        threshold: The threshold map :math:`(H, W)` float32, when asked for.
        source: Where the image came from (its path), if known.
    """

    points: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    image_size: tuple[int, int]
    confidence: np.ndarray | None = None
    threshold: np.ndarray | None = None
    source: str | None = field(default=None)

    @property
    def count(self) -> int:
        """Number of heads."""
        return int(self.points.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``source``, ``image_size``, ``count``, ``points``, ``boxes``, ``areas`` (no maps)."""
        return {
            "source": self.source,
            "image_size": [int(v) for v in self.image_size],
            "count": self.count,
            "points": self.points.tolist(),
            "boxes": self.boxes.tolist(),
            "areas": self.areas.tolist(),
        }


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... as a checked device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device: {device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} asked for, but CUDA is not available here; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device: {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist")
    return dev


class Predictor:
    """Locate heads with a trained IIM network.

    Args:
        net: The network (moved to ``device`` and put in eval mode).
        mean: RGB mean in [0, 1] the network was trained with.
        std: RGB standard deviation.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        precision: ``"32"``, or on a GPU ``"16-mixed"`` / ``"bf16-mixed"`` (autocast; the stitched maps stay
            float32). ``"bf16-mixed"`` also runs on the CPU.
        inference: Keyword arguments of :func:`~iim.ops.tiled_inference` (``tile_size``, ``overlap``, ...).
            ``pad_whole`` is on unless given: an image that fits in one pass after padding to a multiple of 16
            (up to 2 x 512 x 2 x 1024 pixels, e.g. 1920 x 1080) runs whole, without tile seams; ``pad_whole=False``
            tiles it as the original (and ``iim-eval``) do.
        min_area: Smallest component counted as a head (3, as the original).
        connectivity: 4 (the original) or 8.
        batch_size: How many images of the same size go through the network together (``predict`` on a list).
        threshold_offset: Added to the learned threshold before binarizing (``confidence >= threshold + offset``):
            the precision/recall knob. 0 (the default) is the trained model; a positive offset keeps fewer, surer
            heads, a negative one more. ``predict`` takes one per call too.
        split_heads: Cut components that hold several confidence peaks into one head per peak (a watershed, see
            :func:`iim.ops.split_touching`); off by default, as the original (one head a component).
        split_min_distance: With ``split_heads``: least distance in pixels between two peaks that count as two heads.
    """

    def __init__(
        self,
        net: IIMNet,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        device: str | torch.device = "cpu",
        precision: str = "32",
        inference: Mapping[str, Any] | None = None,
        min_area: int = 3,
        connectivity: int = 4,
        batch_size: int = 1,
        threshold_offset: float = 0.0,
        split_heads: bool = False,
        split_min_distance: int = SPLIT_MIN_DISTANCE,
    ) -> None:
        if precision not in _PRECISIONS:
            raise ValueError(f"Predictor: `precision` must be one of {_PRECISIONS}, got {precision!r}")
        self.device = resolve_device(device)
        if precision == "16-mixed" and self.device.type != "cuda":
            raise ValueError("Predictor: precision='16-mixed' needs a GPU; on the CPU use '32' or 'bf16-mixed'")
        if connectivity not in (4, 8) or min_area < 0 or batch_size < 1:
            raise ValueError(
                "Predictor: `connectivity` must be 4 or 8, `min_area` >= 0 and `batch_size` >= 1, got "
                f"{connectivity}, {min_area}, {batch_size}"
            )
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"Predictor: `mean` and `std` need 3 values (RGB), got {list(mean)} and {list(std)}")
        self.net = net.to(self.device).eval()
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.precision = precision
        self.inference = {"pad_whole": True, **dict(inference or {})}
        self.min_area = int(min_area)
        self.connectivity = int(connectivity)
        self.batch_size = int(batch_size)
        self.threshold_offset = as_threshold_offset("threshold_offset", threshold_offset)
        if int(split_min_distance) < 1:
            raise ValueError(f"Predictor: `split_min_distance` must be >= 1, got {split_min_distance}")
        self.split_heads = bool(split_heads)
        self.split_min_distance = int(split_min_distance)

    # ------------------------------------------------------------------------------------------------ building
    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        device: str | torch.device = "auto",
        *,
        precision: str = "32",
        inference: Mapping[str, Any] | None = None,
        min_area: int | None = None,
        connectivity: int | None = None,
        batch_size: int = 1,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        threshold_offset: float = 0.0,
        split_heads: bool | None = None,
        split_min_distance: int | None = None,
    ) -> Predictor:
        """A Predictor for an ``iim-train`` checkpoint, or for weights of the original IIM code.

        ``iim-train`` checkpoints carry the network's config, mean/std, inference settings and post-processing
        (``min_area``, ``connectivity``, ``split_heads``, ``split_min_distance``: what the run validated with, e.g.
        a recipe's split heads); arguments given here (not ``None``) override them. A state dict of the original
        code (``Extractor.*`` / ``Binar.*`` keys, see :func:`iim.models.load_original_checkpoint`) is recognised
        too; it carries no statistics, so ``mean`` and ``std`` default to the original's NWPU-Crowd values, and its
        post-processing is the original's (``min_area`` 3, 4-connectivity, no splitting).

        Raises:
            FileNotFoundError: No such file.
            ValueError: The file is not a checkpoint of an IIM network (the message says what it holds).
        """
        from iim.models import load_network
        from iim.models.original import NWPU_MEAN_STD, is_original_checkpoint, load_original_checkpoint

        path = Path(path).expanduser()
        if is_original_checkpoint(path):
            net = load_original_checkpoint(path)
            stats = {"mean": NWPU_MEAN_STD[0], "std": NWPU_MEAN_STD[1], "inference": {}, "min_area": 3}
            stats.update(connectivity=4, split_heads=False, split_min_distance=SPLIT_MIN_DISTANCE)
        else:
            net, info = load_network(path)
            stats = {"mean": info.mean, "std": info.std, "inference": info.inference, "min_area": info.min_area}
            stats.update(connectivity=info.connectivity, split_heads=info.split_heads,
                         split_min_distance=info.split_min_distance)  # fmt: skip
        return cls(
            net,
            mean if mean is not None else stats["mean"],
            std if std is not None else stats["std"],
            device=device,
            precision=precision,
            inference={**stats["inference"], **dict(inference or {})},
            min_area=stats["min_area"] if min_area is None else min_area,
            connectivity=stats["connectivity"] if connectivity is None else connectivity,
            batch_size=batch_size,
            threshold_offset=threshold_offset,
            split_heads=stats["split_heads"] if split_heads is None else split_heads,
            split_min_distance=stats["split_min_distance"] if split_min_distance is None else split_min_distance,
        )

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike[str] | Mapping[str, Any],
        weights: str | os.PathLike[str] | Mapping[str, torch.Tensor],
        device: str | torch.device = "auto",
        *,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> Predictor:
        """A Predictor from a network config and a weights file.

        Args:
            config: The network's config: a YAML file or a mapping, either the ``_target_`` node of the network or a
                whole resolved run config (``.hydra/config.yaml`` of an ``iim-train`` run, which also gives the mean
                and std).
            weights: The network's state dict (a ``.pth`` file or a mapping); an ``iim-train`` checkpoint's
                ``state_dict`` works too (its ``net.`` prefix is removed).
            device: See :class:`Predictor`.
            mean: RGB mean; defaults to the run config's ``data.mean``, else ImageNet's.
            std: RGB standard deviation; as ``mean``.
            **kwargs: Other :class:`Predictor` arguments.
        """
        from iim.models.checkpoint import build_from_config, load_state_dict_file

        net, data = build_from_config(config)
        load_state_dict_file(net, weights)
        mean = mean if mean is not None else data.get("mean", IMAGENET_MEAN)
        std = std if std is not None else data.get("std", IMAGENET_STD)
        return cls(net, mean, std, device=device, **kwargs)

    # -------------------------------------------------------------------------------------------------- running
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.precision == "16-mixed" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def predict_maps(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Confidence and threshold maps of a batch of same-size RGB uint8 images.

        Shape:
            - images: :math:`(B, H, W, 3)` uint8
            - output: two :math:`(B, 1, H, W)` float32 tensors on the Predictor's device
        """
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        x = normalize_image(x, self.mean, self.std)
        with torch.inference_mode(), self._autocast():
            out = tiled_inference(self.net, x, **self.inference)
        return out.confidence.float(), out.threshold.float()

    def finish(
        self,
        confidence: torch.Tensor,
        threshold: torch.Tensor,
        *,
        return_maps: bool = False,
        source: str | None = None,
        threshold_offset: float | None = None,
    ) -> Prediction:
        """One image's maps -> its Prediction: ``confidence >= threshold + offset``, then the components.

        Shape:
            - confidence, threshold: :math:`(1, H, W)` float32 (one image of :meth:`predict_maps`' output)
        """
        offset = self.threshold_offset
        if threshold_offset is not None:
            offset = as_threshold_offset("threshold_offset", threshold_offset)
        binary = confidence >= (threshold + offset if offset else threshold)
        inst = extract_instances(
            binary[0],
            min_area=self.min_area,
            connectivity=self.connectivity,
            split_heads=self.split_heads,
            confidence=confidence[0] if self.split_heads else None,
            split_min_distance=self.split_min_distance,
        )
        h, w = confidence.shape[-2:]
        maps = {}
        if return_maps:
            maps = {"confidence": confidence[0].cpu().numpy(), "threshold": threshold[0].cpu().numpy()}
        return Prediction(inst.points, inst.boxes, inst.areas, (int(h), int(w)), source=source, **maps)

    def predict(
        self,
        image: ImageInput | Sequence[ImageInput],
        return_maps: bool = False,
        *,
        threshold_offset: float | None = None,
    ) -> Any:
        """Heads in one image, or in each image of a list.

        Args:
            image: A path, an RGB numpy array, a PIL image or a tensor (see :func:`iim.inference.as_rgb_array`), or
                a list / tuple of them.
            return_maps: Also return the confidence and threshold maps.
            threshold_offset: This call's offset (see :class:`Predictor`); the Predictor's own when None.

        Returns:
            A :class:`Prediction`, or a list of them for a list.

        Raises:
            FileNotFoundError: a path that does not exist.
            iim.inference.InputError: an input that is not a usable image (the message names it).
        """
        options = {"return_maps": return_maps, "threshold_offset": threshold_offset}
        if isinstance(image, (list, tuple)):
            return list(self.predict_many(image, **options))
        return next(iter(self.predict_many([image], **options)))

    def predict_many(
        self, images: Sequence[ImageInput], return_maps: bool = False, *, threshold_offset: float | None = None
    ) -> Iterator[Prediction]:
        """Predictions for ``images`` in order, batching consecutive images of the same size (``batch_size``)."""
        pending: list[tuple[np.ndarray, str | None]] = []

        def flush() -> Iterator[Prediction]:
            conf, thr = self.predict_maps(np.stack([p[0] for p in pending]))
            for k, (_, source) in enumerate(pending):
                yield self.finish(
                    conf[k], thr[k], return_maps=return_maps, source=source, threshold_offset=threshold_offset
                )
            pending.clear()

        for i, item in enumerate(images):
            array = as_rgb_array(item, name=f"image {i}" if len(images) > 1 else "image")
            source = str(item) if isinstance(item, (str, os.PathLike)) else None
            if pending and (array.shape != pending[0][0].shape or len(pending) >= self.batch_size):
                yield from flush()
            pending.append((array, source))
        if pending:
            yield from flush()

    def __repr__(self) -> str:
        return (
            f"Predictor(device={self.device}, precision={self.precision!r}, inference={self.inference}, "
            f"min_area={self.min_area}, connectivity={self.connectivity}, threshold_offset={self.threshold_offset}, "
            f"split_heads={self.split_heads})"
        )
