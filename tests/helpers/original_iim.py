"""The original IIM code's model structure, rebuilt for tests from method.md section 2 (module names and order as in
taohan10200/IIM's ``Crowd_locator``), so that state dicts with its key names and shapes can be made and its
forward pass compared with iim's. Test-only; written from the documented structure."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class _ConvBNReLU(nn.Module):
    """The original's ``misc.layer.Conv2d`` wrapper as used by its FPN: ``conv`` (no bias), ``bn``, ``relu``."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class OriginalFPN(nn.Module):
    def __init__(self, in_channels=(256, 512, 512), out=256) -> None:
        super().__init__()
        self.lateral_convs = nn.ModuleList(_ConvBNReLU(c, out, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(_ConvBNReLU(out, out, 3) for _ in in_channels)

    def forward(self, inputs):
        lat = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(lat) - 1, 0, -1):
            lat[i - 1] = lat[i - 1] + F.interpolate(lat[i], size=lat[i - 1].shape[2:], mode="nearest")
        return [conv(x) for conv, x in zip(self.fpn_convs, lat)]


def _head(channels: int) -> nn.Sequential:
    """``de_pred`` / ``last_layer``: 1x1 conv + BN + ReLU, two stride-2 transposed convs, sigmoid."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.ConvTranspose2d(channels, 64, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),
        nn.Sigmoid(),
    )


class OriginalVGG16FPN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        features = list(torchvision.models.vgg16_bn(weights=None).features.children())
        self.layer1 = nn.Sequential(*features[0:23])
        self.layer2 = nn.Sequential(*features[23:33])
        self.layer3 = nn.Sequential(*features[33:43])
        self.neck = OriginalFPN()
        self.de_pred = _head(768)

    def forward(self, x):
        f1 = self.layer1(x)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f = self.neck([f1, f2, f3])
        feature = torch.cat([f[0], F.interpolate(f[1], scale_factor=2), F.interpolate(f[2], scale_factor=4)], 1)
        return feature, self.de_pred(feature)


class OriginalBinarizedModule(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.Threshold_Module = nn.Sequential(
            nn.Conv2d(channels, 256, 3, padding=1, bias=False),
            nn.PReLU(),
            nn.Conv2d(256, 128, 3, padding=1, bias=False),
            nn.PReLU(),
            nn.Conv2d(128, 64, 3, padding=1, bias=False),
            nn.PReLU(),
            nn.AvgPool2d(15, stride=1, padding=7),
            nn.Conv2d(64, 1, 1, bias=False),
            nn.AvgPool2d(15, stride=1, padding=7),
        )
        self.weight = nn.Parameter(torch.full((1,), 0.5))  # never used in forward
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, feature, pred_map):
        p = F.interpolate(pred_map.detach(), scale_factor=0.125)
        f = F.interpolate(feature.detach(), scale_factor=0.5)
        t = self.Threshold_Module(f * p)
        t = 1.0 / (2.0 + torch.exp(-10.0 * t)) + 0.2
        return F.interpolate(t, scale_factor=8)


class _DataParallelName(nn.Module):
    """Stands in for ``nn.DataParallel`` in key names: the wrapped module under ``module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args):
        return self.module(*args)


class OriginalCrowdLocatorVGG(nn.Module):
    """``Crowd_locator`` with VGG16_FPN; ``data_parallel`` names the two parts as two-GPU training does."""

    def __init__(self, data_parallel: bool = True) -> None:
        super().__init__()
        extractor, binar = OriginalVGG16FPN(), OriginalBinarizedModule(768)
        self.Extractor = _DataParallelName(extractor) if data_parallel else extractor
        self.Binar = _DataParallelName(binar) if data_parallel else binar

    def forward(self, x):
        feature, pred = self.Extractor(x)
        return pred, self.Binar(feature, pred)


def hrnet_w48_original_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the original ``Extractor`` HRNet-W48 (``seg_hrnet.py`` with ``seg_hrnet_w48.yaml``)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{name}.weight"] = (cout, cin, k, k)

    def bn(name: str, c: int) -> None:
        for s in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{s}"] = (c,)
        shapes[f"{name}.num_batches_tracked"] = ()

    conv("conv1", 3, 64, 3)
    bn("bn1", 64)
    conv("conv2", 64, 64, 3)
    bn("bn2", 64)
    inplanes = 64
    for b in range(4):  # stage 1: 4 bottlenecks, 64 planes, expansion 4
        p = f"layer1.{b}"
        conv(f"{p}.conv1", inplanes, 64, 1)
        bn(f"{p}.bn1", 64)
        conv(f"{p}.conv2", 64, 64, 3)
        bn(f"{p}.bn2", 64)
        conv(f"{p}.conv3", 64, 256, 1)
        bn(f"{p}.bn3", 256)
        if b == 0:
            conv(f"{p}.downsample.0", 64, 256, 1)
            bn(f"{p}.downsample.1", 256)
        inplanes = 256
    previous = [256]
    for s, (branches, modules) in enumerate((([48, 96], 1), ([48, 96, 192], 4), ([48, 96, 192, 384], 3))):
        t = f"transition{s + 1}"
        for i, c in enumerate(branches):
            if i < len(previous):
                if c != previous[i]:
                    conv(f"{t}.{i}.0", previous[i], c, 3)
                    bn(f"{t}.{i}.1", c)
            else:
                for j in range(i + 1 - len(previous)):
                    cin = previous[-1]
                    cout = c if j == i - len(previous) else cin
                    conv(f"{t}.{i}.{j}.0", cin, cout, 3)
                    bn(f"{t}.{i}.{j}.1", cout)
        stage = f"stage{s + 2}"
        for m in range(modules):
            for br, c in enumerate(branches):
                for blk in range(4):  # BASIC blocks
                    p = f"{stage}.{m}.branches.{br}.{blk}"
                    conv(f"{p}.conv1", c, c, 3)
                    bn(f"{p}.bn1", c)
                    conv(f"{p}.conv2", c, c, 3)
                    bn(f"{p}.bn2", c)
            for i in range(len(branches)):
                for j in range(len(branches)):
                    p = f"{stage}.{m}.fuse_layers.{i}.{j}"
                    if j > i:
                        conv(f"{p}.0", branches[j], branches[i], 1)
                        bn(f"{p}.1", branches[i])
                    elif j < i:
                        for k in range(i - j):
                            cout = branches[i] if k == i - j - 1 else branches[j]
                            conv(f"{p}.{k}.0", branches[j], cout, 3)
                            bn(f"{p}.{k}.1", cout)
        previous = branches
    shapes["last_layer.0.weight"] = (720, 720, 1, 1)
    shapes["last_layer.0.bias"] = (720,)
    bn("last_layer.1", 720)
    shapes["last_layer.3.weight"] = (720, 64, 4, 4)
    shapes["last_layer.3.bias"] = (64,)
    shapes["last_layer.5.weight"] = (64, 1, 4, 4)
    shapes["last_layer.5.bias"] = (1,)
    return shapes


def binar_shapes(channels: int) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the original ``Binar`` (``BinarizedModule``)."""
    return {k: tuple(v.shape) for k, v in OriginalBinarizedModule(channels).state_dict().items()}
