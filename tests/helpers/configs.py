"""Compose the real ``conf/`` tree with fast overrides (the lightning-hydra-template pattern)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, open_dict

FAST = [
    "model/net/predictor=test_resnet_fpn",
    "trainer=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks=none",
    "logger=csv",
    "data.num_workers=0",
]


def compose_train(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    """``conf/<config_name>.yaml`` with ``overrides``, its Hydra paths resolved into ``output_dir``."""
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
    return cfg
