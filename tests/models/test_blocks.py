"""Necks, head and predictor: widths read from the backbone, the original's structure, strides."""

from __future__ import annotations

import functools

import pytest
import torch

from iim.models import ConcatNeck, ConfidenceHead, ConfidencePredictor, FPNNeck, TimmBackbone


def test_fpn_neck_concatenates_levels_at_the_finest_stride():
    neck = FPNNeck(in_channels=[256, 512, 512], strides=[4, 8, 16], out_channels=256)
    assert neck.out_channels == 768 and neck.stride == 4
    feats = [torch.rand(1, 256, 16, 32), torch.rand(1, 512, 8, 16), torch.rand(1, 512, 4, 8)]
    assert neck(feats).shape == (1, 768, 16, 32)
    convs = [m for m in neck.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    assert [c.kernel_size for c in convs] == [(1, 1)] * 3 + [(3, 3)] * 3


def test_concat_neck_is_hrnet_720():
    neck = ConcatNeck(in_channels=[48, 96, 192, 384], strides=[4, 8, 16, 32])
    assert neck.out_channels == 720 and not list(neck.parameters())
    feats = [torch.rand(1, c, 32 // (2**i), 64 // (2**i)) for i, c in enumerate([48, 96, 192, 384])]
    out = neck(feats)
    assert out.shape == (1, 720, 32, 64)
    assert torch.equal(out[:, :48], feats[0])


@pytest.mark.parametrize("neck_cls", [FPNNeck, ConcatNeck])
def test_neck_argument_errors(neck_cls):
    with pytest.raises(ValueError, match="equal length"):
        neck_cls(in_channels=[8, 16], strides=[4])
    with pytest.raises(ValueError, match="strides"):
        neck_cls(in_channels=[8, 16], strides=[8, 4])
    neck = neck_cls(in_channels=[8, 16], strides=[4, 8])
    with pytest.raises(ValueError, match="expected 2 feature levels, got 1"):
        neck([torch.rand(1, 8, 4, 4)])


def test_head_is_the_original_de_pred():
    head = ConfidenceHead(in_channels=768, stride=4, init_std=0.01)
    layers = [m for m in head.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    shapes = [(type(m).__name__, m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in layers]
    assert shapes == [
        ("Conv2d", 768, 768, (1, 1), (1, 1)),
        ("ConvTranspose2d", 768, 64, (4, 4), (2, 2)),
        ("ConvTranspose2d", 64, 1, (4, 4), (2, 2)),
    ]
    assert layers[0].weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(layers[0].bias == 0)
    y = head(torch.rand(2, 768, 8, 12))
    assert y.shape == (2, 1, 32, 48) and y.min() > 0 and y.max() < 1
    with pytest.raises(ValueError, match="power of two"):
        ConfidenceHead(in_channels=8, stride=6)


def test_predictor_reads_every_width_from_the_backbone():
    bb = TimmBackbone("test_resnet", out_indices=[1, 2, 3])
    pred = ConfidencePredictor(
        bb, functools.partial(FPNNeck, out_channels=8), functools.partial(ConfidenceHead, deconv_channels=4)
    )
    assert pred.feature_channels == 24 and pred.size_divisor == 16
    features, confidence = pred(torch.rand(2, 3, 64, 32))
    assert features.shape == (2, 24, 16, 8) and confidence.shape == (2, 1, 64, 32)
