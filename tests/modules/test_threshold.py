"""Threshold encoders: the PBM's structure and shapes, the IBM, the fixed baseline, gradient isolation, learning."""

from __future__ import annotations

import pytest
import torch

from iim.modules import FixedThreshold, ImageThresholdEncoder, PixelThresholdEncoder, binarize


def test_pbm_structure_is_the_original():
    enc = PixelThresholdEncoder(in_channels=768)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.bias is None) for c in convs] == [
        (768, 256, (3, 3), True),
        (256, 128, (3, 3), True),
        (128, 64, (3, 3), True),
        (64, 1, (1, 1), True),
    ]
    prelus = [m for m in enc.modules() if isinstance(m, torch.nn.PReLU)]
    assert len(prelus) == 3 and all(p.weight.numel() == 1 and p.weight.item() == pytest.approx(0.25) for p in prelus)
    pools = [m for m in enc.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert [(p.kernel_size, p.stride, p.padding, p.count_include_pad) for p in pools] == [(15, 1, 7, True)] * 2


def test_pbm_shapes_at_training_crop():
    # method.md: 1x3x512x1024 (VGG) -> F 1x768x128x256, TE input 1x768x64x128, T 1x1x512x1024
    enc = PixelThresholdEncoder(in_channels=768)
    seen = {}

    def record(module, args):
        seen["te_input"] = tuple(args[0].shape)

    enc.encoder[0].register_forward_pre_hook(record)
    with torch.no_grad():
        t = enc(torch.rand(1, 768, 128, 256), torch.rand(1, 1, 512, 1024))
    assert seen["te_input"] == (1, 768, 64, 128)
    assert t.shape == (1, 1, 512, 1024)
    assert t.min() > 0.2 and t.max() < 0.7


def test_pbm_matches_a_hand_written_reference():
    torch.manual_seed(1)
    enc = PixelThresholdEncoder(in_channels=5).double()
    f = torch.rand(2, 5, 16, 24, dtype=torch.float64)
    p = torch.rand(2, 1, 64, 96, dtype=torch.float64)
    ps = p[:, :, ::8, ::8]  # nearest 1/8 keeps the top-left pixel of each 8x8 block
    fs = f[:, :, ::2, ::2]  # nearest 1/2
    x = fs * ps
    for conv, act in zip(enc.encoder[0::2], enc.encoder[1::2]):
        x = act(torch.nn.functional.conv2d(x, conv.weight, padding=1))
    x = torch.nn.functional.avg_pool2d(x, 15, 1, 7, count_include_pad=True)
    x = torch.nn.functional.conv2d(x, enc.project.weight)
    x = torch.nn.functional.avg_pool2d(x, 15, 1, 7, count_include_pad=True)
    t_ref = 1.0 / (2.0 + torch.exp(-10.0 * x)) + 0.2
    t_ref = t_ref.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
    assert torch.allclose(enc(f, p), t_ref, atol=1e-12)


def test_zero_input_gives_initial_threshold():
    for enc in (PixelThresholdEncoder(in_channels=8), ImageThresholdEncoder(in_channels=8)):
        t = enc(torch.zeros(1, 8, 8, 8), torch.zeros(1, 1, 32, 32))
        assert torch.allclose(t, torch.full_like(t, 1 / 3 + 0.2))


def test_ibm_one_threshold_per_image():
    enc = ImageThresholdEncoder(in_channels=6)
    torch.nn.init.normal_(enc.project.weight)
    t = enc(torch.rand(3, 6, 9, 13), torch.rand(3, 1, 36, 52))
    assert t.shape == (3, 1, 36, 52)
    flat = t.flatten(1)
    assert torch.all(flat == flat[:, :1])
    assert len(set(flat[:, 0].tolist())) == 3


def test_fixed_threshold():
    c = torch.rand(2, 1, 5, 7, dtype=torch.float64)
    t = FixedThreshold(0.8)(None, c)
    assert t.shape == c.shape and t.dtype == torch.float64 and torch.all(t == 0.8)
    assert not list(FixedThreshold(0.5).parameters())
    with pytest.raises(ValueError, match="value"):
        FixedThreshold(1.5)


@pytest.mark.parametrize("cls", [PixelThresholdEncoder, ImageThresholdEncoder])
def test_no_gradient_into_features_or_confidence(cls):
    enc = cls(in_channels=4)
    f = torch.rand(1, 4, 8, 8, requires_grad=True)
    p = torch.rand(1, 1, 32, 32, requires_grad=True)
    enc(f, p).sum().backward()
    assert f.grad is None and p.grad is None
    assert all(q.grad is not None for q in enc.parameters() if q.requires_grad)


@pytest.mark.parametrize("cls", [PixelThresholdEncoder, ImageThresholdEncoder])
@pytest.mark.parametrize(("confidence", "target", "direction"), [(0.6, 0.0, +1), (0.45, 1.0, -1)], ids=["FP", "FN"])
def test_one_step_moves_threshold_the_right_way(cls, confidence, target, direction):
    # All pixels false positive (P above T, Y = 0): the threshold must rise; all false negative: it must fall.
    enc = cls(in_channels=4)
    f = torch.rand(1, 4, 16, 16) + 0.5
    p = torch.full((1, 1, 64, 64), confidence)
    y = torch.full((1, 1, 64, 64), target)
    before = enc(f, p).detach()
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    (binarize(p, enc(f, p)) - y).abs().mean().backward()
    opt.step()
    after = enc(f, p).detach()
    assert torch.all(torch.sign(after - before).mean() == direction)
    assert (after - before).abs().mean() > 1e-4


def test_encoder_input_errors_name_the_argument():
    enc = PixelThresholdEncoder(in_channels=4)
    with pytest.raises(ValueError, match=r"confidence.*\(B, 1, H, W\)"):
        enc(torch.rand(1, 4, 8, 8), torch.rand(1, 2, 32, 32))
    with pytest.raises(ValueError, match="expected 4 feature channels, got 3"):
        enc(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="features"):
        ImageThresholdEncoder(in_channels=4)(torch.rand(2, 4, 8, 8), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="pool_size"):
        PixelThresholdEncoder(in_channels=4, pool_size=14)
