"""PyTorch Lightning callbacks of iim (imports ``pytorch_lightning``).

- :class:`LogPredictionImages` -- validation pictures (TP / FP / FN overlay, confidence / threshold maps) to
  TensorBoard, Weights & Biases, or PNG files
"""

from __future__ import annotations

from iim.callbacks.visualize import LogPredictionImages

__all__ = ["LogPredictionImages"]
