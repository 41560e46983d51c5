"""The Binarization Module's differentiable step: ``B = 1[confidence >= threshold]`` with a surrogate backward.

IIM (Gao et al., "Learning Independent Instance Maps for Crowd Localization", arXiv 2012.04164) binarizes the predicted
confidence map with a learned threshold. The forward pass is a hard step; the backward pass is the original code's
``BinarizedF``: the confidence receives ``grad_scale * g`` (straight-through, scaled by 0.2 in the original) and the
threshold receives ``-g``, so an L1 loss on the binary map raises the threshold on false positives and lowers it on
false negatives.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iim.modules.configurable import Configurable

__all__ = ["BinarizationLayer", "binarize"]


def _reduce_to_shape(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad.reshape(shape)


class _StraightThroughStep(torch.autograd.Function):
    """Hard step forward, ``(grad_scale * g, -g)`` backward (the original ``BinarizedF``)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, confidence: Tensor, threshold: Tensor, grad_scale: float
    ) -> Tensor:  # type: ignore[override]
        ctx.grad_scale = grad_scale  # type: ignore[attr-defined]
        ctx.threshold_shape = threshold.shape  # type: ignore[attr-defined]
        ctx.threshold_dtype = threshold.dtype  # type: ignore[attr-defined]
        return (confidence >= threshold).to(confidence.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # type: ignore[override]
        grad_confidence = grad * ctx.grad_scale if ctx.needs_input_grad[0] else None  # type: ignore[attr-defined]
        grad_threshold = None
        if ctx.needs_input_grad[1]:
            grad_threshold = _reduce_to_shape(-grad, ctx.threshold_shape).to(ctx.threshold_dtype)  # type: ignore[attr-defined]
        return grad_confidence, grad_threshold, None


def binarize(confidence: Tensor, threshold: Tensor | float, grad_scale: float = 0.2) -> Tensor:
    """Binarize a confidence map with a (learned) threshold, differentiably.

    Forward: ``1`` where ``confidence >= threshold`` (ties count as foreground, as in the original), else ``0``, in the
    confidence's dtype. Backward: ``d confidence = grad_scale * g`` and ``d threshold = -g`` summed back to the
    threshold's own shape.

    Args:
        confidence: Confidence map in ``[0, 1]``.
        threshold: A Python float, a scalar tensor, one value per image, or a full threshold map; anything that
            broadcasts against ``confidence``.
        grad_scale: Factor on the straight-through gradient to the confidence. ``0.2`` as in the original code;
            ``0.0`` stops the binarization loss from reaching the confidence predictor.

    Returns:
        The binary map, same shape and dtype as ``confidence``.

    Shape:
        - confidence: :math:`(B, 1, H, W)` (any shape works)
        - threshold: :math:`()`, :math:`(B, 1, 1, 1)` or :math:`(B, 1, H, W)`
        - output: :math:`(B, 1, H, W)`

    Example:
        >>> p = torch.tensor([[0.5, 0.7], [0.2, 0.6]], requires_grad=True)
        >>> binarize(p, torch.tensor(0.6))
        tensor([[0., 1.],
                [0., 1.]], grad_fn=<_StraightThroughStepBackward>)
    """
    if not isinstance(confidence, Tensor):
        raise TypeError(f"binarize: `confidence` must be a torch.Tensor, got {type(confidence).__name__}")
    if not isinstance(threshold, Tensor):
        threshold = torch.as_tensor(threshold, dtype=confidence.dtype, device=confidence.device)
    try:
        out_shape = torch.broadcast_shapes(confidence.shape, threshold.shape)
    except RuntimeError as err:
        raise ValueError(
            f"binarize: `threshold` of shape {tuple(threshold.shape)} does not broadcast against `confidence` of shape "
            f"{tuple(confidence.shape)}; expected a scalar, (B, 1, 1, 1) or (B, 1, H, W)"
        ) from err
    if out_shape != confidence.shape:
        raise ValueError(
            f"binarize: `threshold` of shape {tuple(threshold.shape)} would enlarge `confidence` of shape "
            f"{tuple(confidence.shape)}; expected a scalar, (B, 1, 1, 1) or (B, 1, H, W)"
        )
    if grad_scale < 0:
        raise ValueError(f"binarize: `grad_scale` must be >= 0, got {grad_scale}")
    return _StraightThroughStep.apply(confidence, threshold, float(grad_scale))


class BinarizationLayer(Configurable, nn.Module):
    """Module form of :func:`binarize`; it holds only the configuration (no parameters).

    Args:
        grad_scale: Factor on the straight-through gradient to the confidence (0.2 as in the original code).

    Shape:
        - confidence: :math:`(B, 1, H, W)`
        - threshold: :math:`()`, :math:`(B, 1, 1, 1)` or :math:`(B, 1, H, W)`
        - output: :math:`(B, 1, H, W)`, values in ``{0, 1}``

    Example:
        >>> layer = BinarizationLayer(grad_scale=0.2)
        >>> layer(torch.rand(2, 1, 8, 8), torch.full((2, 1, 1, 1), 0.5)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, grad_scale: float = 0.2) -> None:
        super().__init__()
        if grad_scale < 0:
            raise ValueError(f"BinarizationLayer: `grad_scale` must be >= 0, got {grad_scale}")
        self.grad_scale = float(grad_scale)

    def forward(self, confidence: Tensor, threshold: Tensor | float) -> Tensor:
        """Binarize ``confidence`` against ``threshold`` (see :func:`binarize`)."""
        return binarize(confidence, threshold, self.grad_scale)

    def extra_repr(self) -> str:
        return f"grad_scale={self.grad_scale}"
