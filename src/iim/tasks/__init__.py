"""The Lightning layer of iim: the training task and its optimizer/scheduler grouping."""

from iim.tasks.locator import LocatorTask, NonFiniteLossError, ThresholdCollapseError
from iim.tasks.optim import EpochDecayLR, OptimizerGroup, PolyLR, SchedulerGroup, WarmupCosineLR

__all__ = [
    "EpochDecayLR",
    "LocatorTask",
    "NonFiniteLossError",
    "OptimizerGroup",
    "PolyLR",
    "SchedulerGroup",
    "ThresholdCollapseError",
    "WarmupCosineLR",
]
