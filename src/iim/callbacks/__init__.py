"""PyTorch Lightning callbacks of iim (imports ``pytorch_lightning``).

- :class:`LastCheckpoint` -- ``last.ckpt`` after every training epoch, written atomically (the resume point)
- :class:`LogPredictionImages` -- validation pictures (TP / FP / FN overlay, confidence / threshold maps) to
  TensorBoard, Weights & Biases, or PNG files
"""

from __future__ import annotations

from iim.callbacks.last_checkpoint import LastCheckpoint
from iim.callbacks.visualize import LogPredictionImages

__all__ = ["LastCheckpoint", "LogPredictionImages"]
