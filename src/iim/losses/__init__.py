"""Training losses of IIM (torch only)."""

from iim.losses.iim_loss import IIMLoss, iim_loss

__all__ = ["IIMLoss", "iim_loss"]
