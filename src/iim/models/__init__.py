"""IIM networks: a timm backbone, a neck, the confidence head and the whole :class:`IIMNet`.

Torch and timm only (no Lightning); :func:`build_network` imports Hydra lazily when called.
"""

from iim.models.backbone import TimmBackbone
from iim.models.checkpoint import CheckpointInfo, load_network
from iim.models.concat import ConcatNeck
from iim.models.factory import available_predictors, available_thresholds, build_network
from iim.models.fpn import FPNNeck
from iim.models.head import ConfidenceHead
from iim.models.network import IIMNet, IIMOutput
from iim.models.original import NWPU_MEAN_STD, load_original_checkpoint
from iim.models.predictor import ConfidencePredictor
from iim.models.pretrained import (
    PretrainedWeightsUnavailableError,
    convert_by_order,
    efficientnet_lite0_state_dict,
    efficientnet_lite2_state_dict,
)

__all__ = [
    "NWPU_MEAN_STD",
    "CheckpointInfo",
    "ConcatNeck",
    "ConfidenceHead",
    "ConfidencePredictor",
    "FPNNeck",
    "IIMNet",
    "IIMOutput",
    "PretrainedWeightsUnavailableError",
    "TimmBackbone",
    "available_predictors",
    "available_thresholds",
    "build_network",
    "convert_by_order",
    "efficientnet_lite0_state_dict",
    "efficientnet_lite2_state_dict",
    "load_network",
    "load_original_checkpoint",
]
