"""A LocatorTask made in plain Python (no iim-train, no Hydra config) writes checkpoints that every loader takes."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from iim.cli.export import main as export_main
from iim.data import CrowdDataModule, CrowdTransform, SyntheticSource
from iim.inference import Predictor
from iim.models import ConfidencePredictor, FPNNeck, IIMNet, TimmBackbone, build_network, load_network
from iim.models.head import ConfidenceHead
from iim.modules import Configurable, FixedThreshold, NotConfigurableError, PixelThresholdEncoder
from iim.tasks import LocatorTask


def _datamodule() -> CrowdDataModule:
    source = SyntheticSource(train=4, val=1, test=1, seed=0, height=64, width=96, max_heads=12, head_size=(6, 12))
    return CrowdDataModule(
        source=source,
        train_transform=CrowdTransform(crop_size=(64, 64), seed=0),
        eval_transform=CrowdTransform(),
        batch_size=2,
    )


def _fit(net: nn.Module, tmp_path) -> str:
    task = LocatorTask(net, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    trainer = pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=_datamodule())
    (ckpt,) = (tmp_path / "checkpoints").glob("*.ckpt")  # Lightning's own ModelCheckpoint wrote it
    return str(ckpt)


def test_checkpoint_of_a_python_built_task_loads_in_predictor_and_export(tmp_path):
    net = build_network("test_resnet_fpn", "pbm")
    ckpt = _fit(net, tmp_path)
    predictor = Predictor.from_checkpoint(ckpt, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    # the rebuilt network is the trained one: same weights, same maps
    trained = {k: v for k, v in net.state_dict().items()}
    loaded = predictor.net.state_dict()
    assert trained.keys() == loaded.keys()
    assert all(torch.equal(trained[k].cpu(), loaded[k].cpu()) for k in trained)
    assert predictor.mean == (0.5, 0.5, 0.5)
    result = predictor.predict(image)
    assert result.count == len(result.points)
    out = tmp_path / "net.pt"
    # Lightning's checkpoint name has '=' (epoch=0-step=2.ckpt): a word with '=' is a setting, so quote it as one
    assert export_main([f"ckpt='{ckpt}'", "format=torchscript", f"output={out}"]) == 0
    assert out.is_file() and out.stat().st_size > 0


def test_hand_assembled_network_records_a_config_that_rebuilds_it(tmp_path):
    net = IIMNet(
        predictor=ConfidencePredictor(
            backbone=TimmBackbone("test_resnet", out_indices=[1, 2, 3, 4]),
            neck=functools.partial(FPNNeck, out_channels=16),
            head=functools.partial(ConfidenceHead, deconv_channels=8),
        ),
        threshold_encoder=FixedThreshold(0.6),
    )
    config = net.config()
    assert config["threshold_encoder"] == {"_target_": "iim.modules.threshold.FixedThreshold", "value": 0.6}
    assert config["predictor"]["neck"] == {"_target_": "iim.models.fpn.FPNNeck", "_partial_": True, "out_channels": 16}
    ckpt = _fit(net, tmp_path)
    rebuilt, info = load_network(ckpt)
    assert info.net_config == config
    assert rebuilt.threshold_encoder.value == 0.6
    assert rebuilt.predictor.feature_channels == net.predictor.feature_channels == 4 * 16  # 4 levels of 16


def test_a_subclass_records_its_own_arguments_not_those_it_passes_up():
    class Wide(PixelThresholdEncoder):
        def __init__(self, in_channels: int, width: int = 32) -> None:
            super().__init__(in_channels, hidden_channels=(width, width, width))

    enc = Wide(8, width=16)
    assert enc.config()["width"] == 16 and "hidden_channels" not in enc.config()
    assert enc.config()["_target_"].endswith("Wide")


def test_a_part_without_config_form_is_named_and_the_checkpoint_says_so(tmp_path):
    class Foreign(nn.Module):  # a user's module that does not record its arguments
        def forward(self, features, confidence):
            return torch.full_like(confidence, 0.5)

    net = build_network("test_resnet_fpn", "fixed_0.5")
    net.threshold_encoder = Foreign()
    net._init_arguments["threshold_encoder"] = net.threshold_encoder
    with pytest.raises(NotConfigurableError, match=r"IIMNet.threshold_encoder: a .*Foreign has no config form"):
        net.config()
    with pytest.warns(UserWarning, match="checkpoints will not hold a network config"):
        ckpt = _fit(net, tmp_path)
    with pytest.raises(ValueError, match="has no network config"):
        load_network(ckpt)
    assert isinstance(build_network("test_resnet_fpn", "pbm"), Configurable)


def test_checkpoints_of_the_earlier_iim_train_keep_loading(tmp_path):
    """Before, iim-train stored the Hydra node ``model.net`` as written (``iim.models.IIMNet`` targets)."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    net = build_network("test_resnet_fpn", "ibm")
    ckpt = _fit(net, tmp_path)
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(
            config_name="network", overrides=["model/net/predictor=test_resnet_fpn", "model/net/threshold_encoder=ibm"]
        )
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["iim"]["net_config"] = OmegaConf.to_container(cfg.model.net, resolve=True)
    assert checkpoint["iim"]["net_config"]["_target_"] == "iim.models.IIMNet"
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    rebuilt, _ = load_network(old)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), net.state_dict().values()))
