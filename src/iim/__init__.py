"""iim: crowd localization with Independent Instance Maps (Gao et al., arXiv 2012.04164).

Importing ``iim`` is light; the subpackages are imported on demand:

- :mod:`iim.modules` -- the binarization layer, compressed sigmoid and threshold encoders (torch only)
- :mod:`iim.models` -- timm backbones, necks, the confidence head and :class:`~iim.models.IIMNet`
- :mod:`iim.losses` -- the IIM loss
- :mod:`iim.inference` -- the :class:`~iim.inference.Predictor` (also as ``iim.Predictor``), inputs, videos, export
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Prediction", "Predictor", "__version__"]


def __getattr__(name: str) -> Any:
    """``iim.Predictor`` and ``iim.Prediction``, imported on first use (``import iim`` stays light)."""
    if name in ("Predictor", "Prediction"):
        from iim import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'iim' has no attribute {name!r}")
