"""Training and evaluation targets from annotations: instance maps, head sizes, GT-loc sigmas and levels.

numpy/scipy/numba only (no torch, Lightning or Hydra)::

    from iim.targets import boxes_to_instance_map, points_to_boxes
"""

from iim.targets.head_size import estimate_head_sides, points_to_boxes
from iim.targets.instance_map import InstanceLayout, InstanceMode, boxes_to_instance_map, instance_layout
from iim.targets.levels import LEVEL_BOUNDS, SigmasAndLevels, format_gt_loc_line, sigmas_and_levels

__all__ = [
    "LEVEL_BOUNDS",
    "InstanceLayout",
    "InstanceMode",
    "SigmasAndLevels",
    "boxes_to_instance_map",
    "estimate_head_sides",
    "format_gt_loc_line",
    "instance_layout",
    "points_to_boxes",
    "sigmas_and_levels",
]
