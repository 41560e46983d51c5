"""iim: crowd localization with Independent Instance Maps (Gao et al., arXiv 2012.04164).

Importing ``iim`` is light; the subpackages are imported on demand:

- :mod:`iim.modules` -- the binarization layer, compressed sigmoid and threshold encoders (torch only)
- :mod:`iim.models` -- timm backbones, necks, the confidence head and :class:`~iim.models.IIMNet`
- :mod:`iim.losses` -- the IIM loss
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
