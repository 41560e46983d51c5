"""IIMNet built from the shipped configs: named outputs at any input size, the original's shapes, gradient flow."""

from __future__ import annotations

import pytest
import torch

from iim.losses import IIMLoss
from iim.models import IIMNet, IIMOutput, available_predictors, available_thresholds, build_network

SMALL = {"predictor.backbone.pretrained": False}


def test_shipped_configs():
    assert {"vgg16_fpn", "hrnet_w48", "efficientnet_lite0", "test_resnet_fpn"} <= set(available_predictors())
    assert set(available_thresholds()) == {"pbm", "ibm", "fixed_0.5", "fixed_0.8"}
    with pytest.raises(ValueError, match=r"unknown predictor 'nope'; choose one of \["):
        build_network("nope", "pbm")


@pytest.mark.parametrize("threshold", ["pbm", "ibm", "fixed_0.5", "fixed_0.8"])
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (37, 53), (64, 96)])
def test_any_input_size(threshold, size):
    net = build_network("test_resnet_fpn", threshold).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, *size))
    assert isinstance(out, IIMOutput)
    for name in ("confidence", "threshold", "binary"):
        assert getattr(out, name).shape == (2, 1, *size), name
    assert torch.equal(out.binary, (out.confidence >= out.threshold).float())
    if threshold.startswith("fixed"):
        assert torch.all(out.threshold == float(threshold.split("_")[1]))


@pytest.mark.parametrize(
    ("predictor", "overrides"),
    [
        ("vgg16_fpn", SMALL),
        ("efficientnet_lite0", SMALL),
        # HRNet family: the small HRNet keeps the test fast; hrnet_w48 itself is checked at 512x1024 below.
        ("hrnet_w48", {**SMALL, "predictor.backbone.name": "hrnet_w18_small"}),
    ],
)
def test_each_backbone_family_at_odd_sizes(predictor, overrides):
    net = build_network(predictor, "pbm", **overrides).eval()
    assert net.size_divisor % 8 == 0
    with torch.no_grad():
        for size in [(33, 47), (50, 19)]:
            out = net(torch.randn(1, 3, *size))
            assert all(t.shape == (1, 1, *size) for t in out)
            assert out.confidence.min() > 0 and out.confidence.max() < 1
            assert out.threshold.min() > 0.2 and out.threshold.max() < 0.7


@pytest.mark.slow
@pytest.mark.parametrize(("predictor", "channels"), [("vgg16_fpn", 768), ("hrnet_w48", 720)])
def test_original_shapes_at_training_crop(predictor, channels):
    # method.md section 12: 1x3x512x1024 -> F 1xCx128x256, TE input 1xCx64x128, P and T 1x1x512x1024.
    net = build_network(predictor, "pbm", **SMALL).eval()
    assert net.predictor.feature_channels == channels
    seen = {}

    def record(name):
        def hook(module, args, output=None):
            seen[name] = tuple((output if output is not None else args[0]).shape)

        return hook

    net.predictor.neck.register_forward_hook(record("F"))
    net.threshold_encoder.encoder[0].register_forward_pre_hook(record("TE"))
    with torch.no_grad():
        out = net(torch.randn(1, 3, 512, 1024))
    assert seen == {"F": (1, channels, 128, 256), "TE": (1, channels, 64, 128)}
    assert out.confidence.shape == out.threshold.shape == (1, 1, 512, 1024)


@pytest.mark.parametrize("threshold", ["pbm", "ibm"])
def test_threshold_branch_sends_no_gradient_into_the_predictor(threshold):
    net = build_network("test_resnet_fpn", threshold)
    out = net(torch.randn(2, 3, 32, 32))
    out.threshold.sum().backward()
    assert all(p.grad is None for p in net.confidence_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.threshold_parameters())


@pytest.mark.parametrize(("l1_into_confidence", "expect_grad"), [(True, True), (False, False)])
def test_l1_switch_controls_gradient_into_the_predictor(l1_into_confidence, expect_grad):
    net = build_network("test_resnet_fpn", "pbm")
    out = net(torch.randn(2, 3, 32, 32))
    target = (torch.rand(2, 1, 32, 32) > 0.5).float()
    loss = IIMLoss(mse_weight=0.0, l1_into_confidence=l1_into_confidence)(out, target)
    loss["loss"].backward()
    got = any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.confidence_parameters())
    assert got is expect_grad
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.threshold_parameters())


def test_grad_scale_override_from_config():
    net = build_network("test_resnet_fpn", "ibm", **{"binarizer.grad_scale": 0.0})
    assert net.binarizer.grad_scale == 0.0
    assert isinstance(net, IIMNet)


def test_network_input_errors():
    net = build_network("test_resnet_fpn", "pbm")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\), got shape \(3, 32, 32\)"):
        net(torch.randn(3, 32, 32))
