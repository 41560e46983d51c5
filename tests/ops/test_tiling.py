"""Tiled inference: the original's tiles, averaging of overlaps, padding, any size, equality with one pass."""

from __future__ import annotations

import pytest
import torch

from iim.models import IIMOutput, build_network
from iim.ops import tile_windows, tiled_inference


def test_original_tiles_for_1080x1920():
    # method.md section 12: 1080x1920 is padded to 1088x1920 and covered by these 6 tiles.
    assert tile_windows(1088, 1920) == [
        (0, 512, 0, 1024),
        (0, 512, 896, 1920),
        (512, 1024, 0, 1024),
        (512, 1024, 896, 1920),
        (576, 1088, 0, 1024),
        (576, 1088, 896, 1920),
    ]


@pytest.mark.parametrize(("h", "w"), [(1088, 1920), (1024, 2048), (2000, 3008), (400, 640), (512, 1024)])
def test_windows_match_the_original_loop(h, w):
    expected = []
    for i in range(0, h, 512):
        for j in range(0, w, 1024):
            h0, h1 = max(min(h - 512, i), 0), min(h, i + 512)
            w0, w1 = max(min(w - 1024, j), 0), min(w, j + 1024)
            expected.append((h0, h1, w0, w1))
    assert tile_windows(h, w) == list(dict.fromkeys(expected))


def test_overlap_option():
    windows = tile_windows(1000, 1000, tile_size=(400, 400), overlap=100)
    rows = sorted({w[0] for w in windows})
    assert rows == [0, 300, 600]
    assert all(h1 - h0 == 400 and w1 - w0 == 400 for h0, h1, w0, w1 in windows)
    with pytest.raises(ValueError, match="overlap"):
        tile_windows(100, 100, tile_size=(50, 50), overlap=50)


class _Recorder(torch.nn.Module):
    """A fake network: confidence = the image's first channel, threshold = its second; records tile shapes."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        c, t = x[:, :1], x[:, 1:2]
        return IIMOutput(c, t, (c >= t).float())


def test_pixelwise_net_is_reproduced_exactly_and_counts_are_averaged():
    image = torch.rand(2, 3, 1080, 1920)
    net = _Recorder()
    out = tiled_inference(net, image, tile_batch_size=4)
    assert net.shapes == [(8, 3, 512, 1024), (4, 3, 512, 1024)]  # 6 tiles x 2 images in groups of 4 tiles
    assert torch.allclose(out.confidence, image[:, :1]) and torch.allclose(out.threshold, image[:, 1:2])
    assert torch.equal(out.binary, (out.confidence >= out.threshold).float())
    assert out.confidence.shape == (2, 1, 1080, 1920)


def test_overlap_is_averaged():
    # A net whose output depends on the tile position shows the 1/2 and 1/4 weights of the overlaps.
    calls = []

    def net(x):
        calls.append(1)
        value = torch.full_like(x[:, :1], float(len(calls)))
        return value, value

    out = tiled_inference(net, torch.zeros(1, 3, 1080, 1920), tile_batch_size=1, crop_padding=False)
    c = out.confidence[0, 0]
    assert c[0, 0] == 1 and c[0, 1919] == 2
    assert c[0, 900] == pytest.approx(1.5)  # columns 896-1023 are shared by tiles 1 and 2
    assert c[600, 900] == pytest.approx((3 + 4 + 5 + 6) / 4)  # rows 576-1023 x columns 896-1023: 4 tiles


def test_padding_is_cropped_by_default_and_kept_on_request():
    net = _Recorder()
    image = torch.rand(1, 3, 1080, 1920)
    assert tiled_inference(net, image).confidence.shape == (1, 1, 1080, 1920)
    kept = tiled_inference(net, image, crop_padding=False)
    assert kept.confidence.shape == (1, 1, 1088, 1920)
    assert torch.all(kept.confidence[..., 1080:, :] == 0)  # zero padding in normalised space


def test_small_images_run_in_one_pass():
    net = _Recorder()
    tiled_inference(net, torch.rand(1, 3, 768, 1024))
    assert net.shapes == [(1, 3, 768, 1024)]
    tiled_inference(net, torch.rand(1, 3, 767, 1024))  # not a multiple of 16: padded and tiled
    assert net.shapes[1:] == [(2, 3, 512, 1024)]  # padded to 768: rows 0-512 and 256-768


def test_pad_whole_runs_padded_images_in_one_pass():
    net = _Recorder()
    image = torch.rand(1, 3, 1080, 1920)
    whole = tiled_inference(net, image, pad_whole=True)
    assert net.shapes == [(1, 3, 1088, 1920)] and whole.confidence.shape == (1, 1, 1080, 1920)
    padded = torch.nn.functional.pad(image, (0, 0, 0, 8))
    assert torch.equal(whole.confidence, net(padded).confidence[..., :1080, :])
    net.shapes.clear()
    tiled_inference(net, torch.rand(1, 3, 1500, 1500), pad_whole=True)  # 1504 x 1504 > 2 x 512 x 2 x 1024: tiles
    assert all(s[-2:] == (512, 1024) for s in net.shapes)


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (600, 1100)])
def test_real_network_at_any_size(size):
    net = build_network("test_resnet_fpn", "pbm").eval()
    out = tiled_inference(net, torch.randn(3, *size))
    assert all(t.shape == (1, 1, *size) for t in out)


def test_one_tile_equals_one_pass():
    net = build_network("test_resnet_fpn", "ibm").eval()
    image = torch.randn(1, 3, 256, 512)
    tiled = tiled_inference(net, image, tile_size=(256, 512), max_whole_pixels=None)
    with torch.no_grad():
        direct = net(image)
    assert torch.allclose(tiled.confidence, direct.confidence, atol=1e-6)
    assert torch.allclose(tiled.threshold, direct.threshold, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(C, H, W\)"):
        tiled_inference(_Recorder(), torch.rand(8, 8))
    with pytest.raises(TypeError, match="IIMOutput"):
        tiled_inference(lambda x: x, torch.rand(1, 3, 32, 32))


class _LeftBiased(torch.nn.Module):
    """Confidence = the first channel plus a ramp that rises to the right (not mirror-symmetric); threshold = 0.5."""

    def forward(self, x):
        ramp = torch.linspace(0, 1, x.shape[-1]).expand_as(x[:, :1])
        c = x[:, :1] + ramp
        t = torch.full_like(c, 0.5)
        return IIMOutput(c, t, (c >= t).float())


def test_hflip_averages_the_maps_of_the_image_and_its_mirror():
    image = torch.rand(2, 3, 64, 96)
    net = _Recorder()
    out = tiled_inference(net, image, hflip=True)
    assert net.shapes == [(4, 3, 64, 96)]  # the images and their mirrors in one call
    assert torch.allclose(out.confidence, image[:, :1])  # a pixelwise net is mirror-symmetric: unchanged
    biased = tiled_inference(_LeftBiased(), image, hflip=True)
    # the ramp and its mirror average to 0.5 everywhere
    assert torch.allclose(biased.confidence, image[:, :1] + 0.5, atol=1e-6)
    assert torch.equal(biased.binary, (biased.confidence >= biased.threshold).float())
    tiled = tiled_inference(_Recorder(), torch.rand(1, 3, 1080, 1920), hflip=True, tile_batch_size=6)
    assert tiled.confidence.shape == (1, 1, 1080, 1920)
