"""IIMLoss: MSE(P, Y) + L1(B, Y) with weights, and the switch that keeps L1 away from the confidence."""

from __future__ import annotations

import pytest
import torch

from iim.losses import IIMLoss, iim_loss
from iim.modules import binarize


def _maps():
    p = torch.tensor([[[[0.5, 0.7], [0.2, 0.6]]]], requires_grad=True)
    t = torch.full((1, 1, 2, 2), 0.6, requires_grad=True)
    y = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    return p, t, binarize(p, t), y


def test_value_is_mse_plus_l1():
    p, t, b, y = _maps()
    out = iim_loss(p, t, b, y)
    mse = ((p - y) ** 2).mean()
    l1 = (b - y).abs().mean()
    assert out["loss"].item() == pytest.approx((mse + l1).item())
    assert out["mse"].item() == pytest.approx(mse.item()) and out["l1"].item() == pytest.approx(0.5)
    weighted = iim_loss(p, t, b, y, mse_weight=2.0, l1_weight=0.5)
    assert weighted["loss"].item() == pytest.approx((2 * mse + 0.5 * l1).item())


@pytest.mark.parametrize("into", [True, False])
def test_l1_switch(into):
    p, t, b, y = _maps()
    IIMLoss(mse_weight=0.0, l1_into_confidence=into)({"confidence": p, "threshold": t, "binary": b}, y)[
        "loss"
    ].backward()
    assert torch.allclose(t.grad, torch.tensor([[[[0.25, 0.0], [0.0, -0.25]]]]))  # the threshold learns either way
    if into:
        assert torch.allclose(p.grad, torch.tensor([[[[-0.05, 0.0], [0.0, 0.05]]]]))
    else:
        assert p.grad is None or torch.all(p.grad == 0)  # only the (zero-weighted) MSE term reaches P


def test_tuple_output_and_shape_error():
    p, t, b, y = _maps()
    assert IIMLoss()((p, t, b), y)["loss"].requires_grad
    with pytest.raises(ValueError, match=r"target.*\(1, 1, 3, 3\)"):
        iim_loss(p, t, b, torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="weights"):
        IIMLoss(mse_weight=-1)


def test_foreground_weight_and_focal_gamma_reweight_the_mse_term():
    torch.manual_seed(0)
    confidence = torch.rand(2, 1, 8, 8)
    target = (torch.rand(2, 1, 8, 8) > 0.8).float()
    threshold = torch.full_like(confidence, 0.5)
    binary = (confidence >= threshold).float()
    plain = iim_loss(confidence, threshold, binary, target)
    same = iim_loss(confidence, threshold, binary, target, foreground_weight=1.0, focal_gamma=0.0)
    assert torch.equal(plain["mse"], same["mse"])  # the defaults are the original's loss, bit for bit
    error2 = (confidence - target).square()
    weighted = iim_loss(confidence, threshold, binary, target, foreground_weight=5.0)
    expected = (error2 * (1 + 4 * target)).mean()
    assert torch.allclose(weighted["mse"], expected) and weighted["mse"] > plain["mse"]
    focal = iim_loss(confidence, threshold, binary, target, focal_gamma=2.0)
    assert torch.allclose(focal["mse"], (error2 * (confidence - target).abs().pow(2)).mean())
    assert torch.allclose(focal["loss"] - focal["mse"], plain["loss"] - plain["mse"])  # the L1 term is untouched
    loss = IIMLoss(foreground_weight=5.0, focal_gamma=1.0)
    assert "foreground_weight=5.0" in repr(loss)
    with pytest.raises(ValueError, match="foreground_weight"):
        IIMLoss(foreground_weight=0)
    with pytest.raises(ValueError, match="focal_gamma"):
        IIMLoss(focal_gamma=-1)
