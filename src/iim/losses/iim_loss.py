"""The IIM training loss: MSE on the confidence map plus L1 on the binary map."""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from iim.modules.binarization import binarize

__all__ = ["IIMLoss", "iim_loss"]


def iim_loss(
    confidence: Tensor,
    threshold: Tensor,
    binary: Tensor,
    target: Tensor,
    mse_weight: float = 1.0,
    l1_weight: float = 1.0,
    l1_into_confidence: bool = True,
    foreground_weight: float = 1.0,
    focal_gamma: float = 0.0,
) -> dict[str, Tensor]:
    """``mse_weight * MSE(P, Y) + l1_weight * mean|B - Y|``, the original's loss (weights 1 : 1).

    Two options reweight the MSE term per pixel, ``mean(w * |P - Y|^gamma * (P - Y)^2)`` with ``w`` =
    ``foreground_weight`` on head pixels (``Y = 1``) and 1 elsewhere: heads are a few percent of a crowd image's
    pixels, so the plain MSE is dominated by the background. The defaults (1 and 0) are the original's loss exactly.

    The L1 term trains the threshold encoder through the binarization's ``-g`` gradient and, unless
    ``l1_into_confidence`` is false, also the confidence predictor through its ``grad_scale * g`` straight-through
    gradient (the original's behaviour). With ``l1_into_confidence=False`` the binary map is recomputed from the
    detached confidence (same values), so the L1 term reaches the threshold encoder only (the paper's Table 3 rows
    "L1 loss on BM only").

    Args:
        confidence: Predicted confidence ``P`` in (0, 1).
        threshold: Threshold ``T``.
        binary: ``binarize(P, T)`` as the network returned it.
        target: Instance map ``Y`` in {0, 1}.
        mse_weight: Weight of the MSE term.
        l1_weight: Weight of the L1 term.
        l1_into_confidence: Whether the L1 gradient reaches the confidence predictor.
        foreground_weight: Weight of head pixels in the MSE term (1: the original).
        focal_gamma: Focal exponent of the MSE term (0: the original); larger values stress pixels far from their
            target.

    Returns:
        ``{"loss", "mse", "l1"}`` scalars; ``loss`` is the weighted sum.

    Shape:
        - confidence, threshold, binary, target: :math:`(B, 1, H, W)`
    """
    if target.shape != confidence.shape:
        raise ValueError(
            f"iim_loss: `target` of shape {tuple(target.shape)} must match `confidence` of shape "
            f"{tuple(confidence.shape)}"
        )
    target = target.to(confidence.dtype)
    if not l1_into_confidence:
        binary = binarize(confidence.detach(), threshold)
    if foreground_weight == 1.0 and focal_gamma == 0.0:
        mse = F.mse_loss(confidence, target)
    else:
        error = confidence - target
        weight = 1.0 + (foreground_weight - 1.0) * target
        if focal_gamma:
            weight = weight * error.detach().abs().pow(focal_gamma)
        mse = (weight * error.square()).mean()
    l1 = (binary - target).abs().mean()
    return {"loss": mse_weight * mse + l1_weight * l1, "mse": mse.detach(), "l1": l1.detach()}


class IIMLoss(nn.Module):
    """Module form of :func:`iim_loss`; takes the network's output (an :class:`~iim.models.IIMOutput` or a mapping).

    Args:
        mse_weight: Weight of ``MSE(P, Y)``.
        l1_weight: Weight of ``mean|B - Y|``.
        l1_into_confidence: Whether the L1 gradient reaches the confidence predictor (True in the original).
        foreground_weight: Weight of head pixels in the MSE term (1: the original).
        focal_gamma: Focal exponent of the MSE term (0: the original).

    Shape:
        - output: three :math:`(B, 1, H, W)` maps (``confidence``, ``threshold``, ``binary``)
        - target: :math:`(B, 1, H, W)`
    """

    def __init__(
        self,
        mse_weight: float = 1.0,
        l1_weight: float = 1.0,
        l1_into_confidence: bool = True,
        foreground_weight: float = 1.0,
        focal_gamma: float = 0.0,
    ) -> None:
        super().__init__()
        if mse_weight < 0 or l1_weight < 0:
            raise ValueError(f"IIMLoss: weights must be >= 0, got mse_weight={mse_weight}, l1_weight={l1_weight}")
        if foreground_weight <= 0 or focal_gamma < 0:
            raise ValueError(
                f"IIMLoss: `foreground_weight` must be > 0 and `focal_gamma` >= 0, got {foreground_weight}, "
                f"{focal_gamma}"
            )
        self.foreground_weight = float(foreground_weight)
        self.focal_gamma = float(focal_gamma)
        self.mse_weight = float(mse_weight)
        self.l1_weight = float(l1_weight)
        self.l1_into_confidence = bool(l1_into_confidence)

    def forward(
        self, output: Mapping[str, Tensor] | tuple[Tensor, Tensor, Tensor], target: Tensor
    ) -> dict[str, Tensor]:
        """Compute the loss terms."""
        if isinstance(output, Mapping):
            confidence, threshold, binary = output["confidence"], output["threshold"], output["binary"]
        else:
            confidence, threshold, binary = output
        return iim_loss(
            confidence,
            threshold,
            binary,
            target,
            self.mse_weight,
            self.l1_weight,
            self.l1_into_confidence,
            self.foreground_weight,
            self.focal_gamma,
        )

    def extra_repr(self) -> str:
        return (
            f"mse_weight={self.mse_weight}, l1_weight={self.l1_weight}, l1_into_confidence={self.l1_into_confidence}, "
            f"foreground_weight={self.foreground_weight}, focal_gamma={self.focal_gamma}"
        )
