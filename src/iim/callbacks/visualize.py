"""LogPredictionImages: validation pictures (matches overlay and confidence / threshold maps) to every attached logger.

The LightningModule collects a few validation examples in ``pl_module.val_examples`` (see
:class:`iim.tasks.LocatorTask`); at the end of a validation epoch this callback renders each with
:func:`iim.viz.draw_matches` and :func:`iim.viz.maps_panel` and sends them to TensorBoard (``add_image``), Weights &
Biases (``log_image``), or, for loggers without image support (CSV, MLflow, ...), writes PNG files under the logger's
``log_dir``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_warn

from iim.viz import draw_matches, maps_panel

__all__ = ["LogPredictionImages"]

_REQUIRED_KEYS = ("image", "pred_points", "gt_points", "gt_sigma", "confidence", "threshold")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_name(text: str) -> str:
    """``text`` usable as one file name component (no path separators, no leading dots)."""
    return _UNSAFE.sub("_", text).lstrip(".") or "image"


class LogPredictionImages(pl.Callback):
    """Log the validation examples of the module as pictures: TP / FP / FN overlay and the maps panel.

    At the end of every ``every_n_epochs``-th validation epoch (epochs ``0, n, 2n, ...``; the sanity check is
    skipped), on global rank zero only, the first ``max_images`` entries of ``pl_module.val_examples`` are rendered
    as ``val/matches/<image_id>`` (:func:`~iim.viz.draw_matches`) and ``val/maps/<image_id>``
    (:func:`~iim.viz.maps_panel`) and sent to every logger of the trainer:

    - :class:`~pytorch_lightning.loggers.TensorBoardLogger`: ``experiment.add_image(tag, chw_uint8, global_step)``
    - :class:`~pytorch_lightning.loggers.WandbLogger` (or any logger with a ``log_image`` method):
      ``log_image(key=tag, images=[hwc_uint8], step=global_step)``
    - any other logger with a ``log_dir`` (CSV, ...): PNG files
      ``<log_dir>/images/epoch_<epoch>/<image_id>_{matches,maps}.png``

    The module fills ``val_examples`` (a list of dicts with ``image`` (H, W, 3) uint8 RGB, ``pred_points``,
    ``gt_points``, ``gt_sigma``, ``confidence``, ``threshold``, optionally ``binary`` and ``image_id``); a module
    without it, or with an empty list, is left alone. An example that cannot be rendered is skipped with a warning
    (the run goes on).

    Args:
        every_n_epochs: Log at epochs ``0, n, 2n, ...`` (0-based ``trainer.current_epoch``) when they are validated.
        max_images: Examples logged per epoch (``0`` logs nothing).
        max_side: The longest side of each logged picture in pixels; larger ones are downscaled (area
            interpolation). ``None`` keeps full resolution.

    Shape:
        - logged pictures: :math:`(3, H, W)` uint8 for TensorBoard, :math:`(H, W, 3)` uint8 RGB otherwise
    """

    def __init__(self, every_n_epochs: int = 1, max_images: int = 4, max_side: int | None = 2048) -> None:
        super().__init__()
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"LogPredictionImages: `every_n_epochs` must be an integer >= 1, got {every_n_epochs!r}")
        if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
            raise ValueError(f"LogPredictionImages: `max_images` must be an integer >= 0, got {max_images!r}")
        if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 16):
            raise ValueError(f"LogPredictionImages: `max_side` must be an integer >= 16 or None, got {max_side!r}")
        self.every_n_epochs = every_n_epochs
        self.max_images = max_images
        self.max_side = max_side
        self._warned_loggers: set[int] = set()

    # ------------------------------------------------------------------------------------------------------ render
    def render_example(self, example: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The pictures of one example: ``{"matches": ..., "maps": ...}``, RGB uint8 ``(H, W, 3)``.

        Args:
            example: One entry of ``val_examples`` (see the class docstring).

        Returns:
            The two pictures, each downscaled to ``max_side`` if needed.

        Raises:
            ValueError: a required key is missing, or a value has a wrong shape or dtype.

        Shape:
            - matches: :math:`(H, W, 3)`; maps: :math:`(H_p, W_p, 3)`
        """
        missing = [k for k in _REQUIRED_KEYS if k not in example]
        if missing:
            raise ValueError(f"LogPredictionImages: a val_examples entry lacks the key(s) {missing}")
        matches = draw_matches(example["image"], example["pred_points"], example["gt_points"], example["gt_sigma"])
        maps = maps_panel(
            example["confidence"], example["threshold"], binary=example.get("binary"), image=example["image"]
        )
        return {"matches": self._limit(matches), "maps": self._limit(maps)}

    def _limit(self, picture: np.ndarray) -> np.ndarray:
        if self.max_side is None or max(picture.shape[:2]) <= self.max_side:
            return picture
        f = self.max_side / max(picture.shape[:2])
        size = (max(1, math.floor(picture.shape[1] * f)), max(1, math.floor(picture.shape[0] * f)))
        return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)

    # ------------------------------------------------------------------------------------------------------- hooks
    def should_log(self, trainer: pl.Trainer) -> bool:
        """Rank zero, not the sanity check, an epoch in ``0, n, 2n, ...``, ``max_images > 0``, loggers attached."""
        return (
            trainer.is_global_zero
            and not trainer.sanity_checking
            and trainer.current_epoch % self.every_n_epochs == 0
            and self.max_images > 0
            and bool(trainer.loggers)
        )

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Render the module's ``val_examples`` and log them (see the class docstring)."""
        if not self.should_log(trainer):
            return
        examples = getattr(pl_module, "val_examples", None)
        if not examples:
            return
        epoch, step = int(trainer.current_epoch), int(trainer.global_step)
        used: set[str] = set()
        for index, example in enumerate(list(examples)[: self.max_images]):
            image_id = self._unique_id(example, index, used)
            try:
                pictures = self.render_example(example)
            except Exception as err:  # a picture must never stop a training run
                rank_zero_warn(f"LogPredictionImages: could not render example {image_id!r} at epoch {epoch}: {err}")
                continue
            for kind, picture in pictures.items():
                for logger in trainer.loggers:
                    self._log(logger, kind, image_id, picture, epoch, step)

    @staticmethod
    def _unique_id(example: Mapping[str, Any], index: int, used: set[str]) -> str:
        raw = example.get("image_id") if isinstance(example, Mapping) else None
        image_id = str(raw) if raw is not None and str(raw) != "" else f"example_{index}"
        base, k = image_id, 1
        while image_id in used:
            image_id, k = f"{base}_{k}", k + 1
        used.add(image_id)
        return image_id

    # ----------------------------------------------------------------------------------------------------- loggers
    def _log(self, logger: Any, kind: str, image_id: str, picture: np.ndarray, epoch: int, step: int) -> None:
        tag = f"val/{kind}/{image_id}"
        try:
            if isinstance(logger, WandbLogger) or callable(getattr(logger, "log_image", None)):
                logger.log_image(key=tag, images=[picture], step=step)
            elif isinstance(logger, TensorBoardLogger):
                chw = np.ascontiguousarray(picture.transpose(2, 0, 1))
                logger.experiment.add_image(tag, chw, global_step=step, dataformats="CHW")
            else:
                self._write_png(logger, kind, image_id, picture, epoch)
        except Exception as err:  # a logger failing must never stop a training run
            rank_zero_warn(f"LogPredictionImages: {type(logger).__name__} could not log {tag!r}: {err}")

    def _write_png(self, logger: Any, kind: str, image_id: str, picture: np.ndarray, epoch: int) -> None:
        log_dir = getattr(logger, "log_dir", None)
        if log_dir is None:
            if id(logger) not in self._warned_loggers:
                self._warned_loggers.add(id(logger))
                rank_zero_warn(
                    f"LogPredictionImages: {type(logger).__name__} supports no images and has no `log_dir`; "
                    "its pictures are not saved"
                )
            return
        folder = Path(log_dir) / "images" / f"epoch_{epoch}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe_name(image_id)}_{kind}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cv2.imwrite failed for {path}")
