"""Importing checkpoints of the original IIM code: VGG16_FPN (same outputs as the original structure) and HRNet-W48
(every key of the original's structure lands on a tensor of the same shape); prefixes; clear errors."""

from __future__ import annotations

import pytest
import torch

from helpers.original_iim import OriginalCrowdLocatorVGG, binar_shapes, hrnet_w48_original_shapes
from iim.inference import Predictor
from iim.models import NWPU_MEAN_STD, load_original_checkpoint
from iim.models.original import is_original_checkpoint


def _randomize(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                if "running_var" in name:
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * (0.05 if t.dim() > 1 else 0.2))


@pytest.fixture(scope="module")
def original_vgg():
    model = OriginalCrowdLocatorVGG(data_parallel=True).eval()
    _randomize(model, 0)
    return model


def test_vgg_checkpoint_gives_the_original_outputs(original_vgg, tmp_path):
    state = original_vgg.state_dict()
    assert "Extractor.module.layer2.1.weight" in state and "Binar.module.Threshold_Module.7.weight" in state
    torch.save(state, tmp_path / "vgg.pth")
    assert is_original_checkpoint(tmp_path / "vgg.pth")
    net = load_original_checkpoint(tmp_path / "vgg.pth")
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        confidence, threshold = original_vgg(x)
        out = net(x)
    assert type(net.threshold_encoder).__name__ == "PixelThresholdEncoder"
    assert torch.allclose(out.confidence, confidence, atol=1e-6) and torch.allclose(out.threshold, threshold, atol=1e-6)
    assert torch.equal(out.binary, (confidence >= threshold).float())


@pytest.mark.parametrize(
    "wrap",
    [pytest.param(w, marks=pytest.mark.slow) for w in ("plain", "module", "latest_state")],
)
def test_prefixes_and_containers(original_vgg, tmp_path, wrap):
    state = original_vgg.state_dict()
    plain = {
        k.replace("Extractor.module.", "Extractor.").replace("Binar.module.", "Binar."): v for k, v in state.items()
    }
    obj = {
        "plain": plain,
        "module": {f"module.{k}": v for k, v in plain.items()},
        "latest_state": {"net": state, "optimizer": {}, "epoch": 3},
    }[wrap]
    net = load_original_checkpoint(obj)
    key = "predictor.backbone.body.features_24.weight"  # layer2[1] is vgg16_bn features[24]
    assert torch.equal(net.state_dict()[key], plain["Extractor.layer2.1.weight"])
    assert torch.equal(net.state_dict()["predictor.head.upsample.2.weight"], plain["Extractor.de_pred.5.weight"])


@pytest.mark.slow
def test_hrnet_checkpoint_keys_all_land(tmp_path):
    shapes = {f"Extractor.module.{k}": v for k, v in hrnet_w48_original_shapes().items()}
    shapes.update({f"Binar.module.{k}": v for k, v in binar_shapes(720).items()})
    g = torch.Generator().manual_seed(1)
    state = {k: torch.randn(s, generator=g) if s else torch.tensor(7) for k, s in shapes.items()}
    net = load_original_checkpoint(state)
    own = net.state_dict()
    pairs = {
        "Extractor.module.conv1.weight": "predictor.backbone.body.conv1.weight",
        "Extractor.module.stage4.2.fuse_layers.3.0.2.0.weight": (
            "predictor.backbone.body.stage4.2.fuse_layers.3.0.2.0.weight"
        ),
        "Extractor.module.transition3.3.0.0.weight": "predictor.backbone.body.transition3.3.0.0.weight",
        "Extractor.module.last_layer.3.weight": "predictor.head.upsample.0.weight",
        "Binar.module.Threshold_Module.3.weight": "threshold_encoder.encoder.3.weight",
        "Binar.module.Threshold_Module.7.weight": "threshold_encoder.project.weight",
    }
    for original, ours in pairs.items():
        assert torch.equal(own[ours], state[original]), original
    # nothing left over either way: every original tensor but the two unused Binar parameters has a place
    assert len(shapes) - 2 == len(own)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert net(x).confidence.shape == (1, 1, 64, 64)


@pytest.mark.slow
def test_unknown_missing_and_misshapen_keys_are_named(original_vgg, tmp_path):
    state = dict(original_vgg.state_dict())
    state["Extractor.module.extra_head.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['Extractor.extra_head.weight'\]"):
        load_original_checkpoint(state)
    del state["Extractor.module.extra_head.weight"]
    missing = {k: v for k, v in state.items() if k != "Extractor.module.neck.fpn_convs.2.conv.weight"}
    with pytest.raises(ValueError, match=r"1 missing \['predictor.neck.output.2.0.weight'\]"):
        load_original_checkpoint(missing)
    state["Binar.module.Threshold_Module.0.weight"] = torch.zeros(256, 720, 3, 3)
    with pytest.raises(ValueError, match=r"Binar.Threshold_Module.0.weight \(256, 720, 3, 3\)"):
        load_original_checkpoint(state)
    with pytest.raises(ValueError, match="not a checkpoint of the original IIM code"):
        load_original_checkpoint({"state_dict": {"fc.weight": torch.zeros(1)}})
    with pytest.raises(FileNotFoundError):
        load_original_checkpoint(tmp_path / "missing.pth")


def test_predictor_recognises_original_weights(original_vgg, tmp_path):
    torch.save({f"module.{k}": v for k, v in original_vgg.state_dict().items()}, tmp_path / "NWPU-VGG.pth")
    predictor = Predictor.from_checkpoint(tmp_path / "NWPU-VGG.pth", device="cpu")
    assert predictor.mean == NWPU_MEAN_STD[0] and predictor.std == NWPU_MEAN_STD[1]
    result = predictor.predict(torch.randint(0, 255, (3, 40, 72), dtype=torch.uint8))
    assert result.image_size == (40, 72)
