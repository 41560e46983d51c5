"""Build a network from iim's shipped configs by name, without writing any config.

``build_network("vgg16_fpn", "pbm")`` composes ``conf/model/net/predictor/vgg16_fpn.yaml`` and
``conf/model/net/threshold_encoder/pbm.yaml`` (the same files ``iim-train`` uses) and instantiates them. Hydra and
OmegaConf are imported only when this function runs, so ``import iim.models`` stays light.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from iim.models.network import IIMNet

__all__ = ["available_predictors", "available_thresholds", "build_network"]

_GROUP = "model/net"


def _options(group: str) -> list[str]:
    folder = resources.files("iim.conf").joinpath(f"{_GROUP}/{group}")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def available_predictors() -> list[str]:
    """Names of the shipped confidence-predictor configs (``conf/model/net/predictor``)."""
    return _options("predictor")


def available_thresholds() -> list[str]:
    """Names of the shipped threshold-encoder configs (``conf/model/net/threshold_encoder``)."""
    return _options("threshold_encoder")


def build_network(predictor: str = "efficientnet_lite0", threshold: str = "pbm", **overrides: Any) -> IIMNet:
    """Instantiate an :class:`~iim.models.IIMNet` from the shipped configs.

    Args:
        predictor: A name from :func:`available_predictors` (``vgg16_fpn``, ``hrnet_w48``, ``efficientnet_lite0``, ...).
        threshold: A name from :func:`available_thresholds` (``pbm``, ``ibm``, ``fixed_0.5``, ``fixed_0.8``).
        **overrides: Dotted keys relative to the network node, e.g. ``{"predictor.backbone.pretrained": False,
            "binarizer.grad_scale": 0.0}``.

    Returns:
        The network.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    for kind, name, options in (
        ("predictor", predictor, available_predictors()),
        ("threshold", threshold, available_thresholds()),
    ):
        if name not in options:
            raise ValueError(f"build_network: unknown {kind} {name!r}; choose one of {options}")
    args = [f"{_GROUP}/predictor={predictor}", f"{_GROUP}/threshold_encoder={threshold}"]
    args += [f"++model.net.{key}={_hydra_value(value)}" for key, value in overrides.items()]
    was_initialized = GlobalHydra.instance().is_initialized()
    if was_initialized:
        raise RuntimeError("build_network: call it outside a running Hydra app; there use hydra.utils.instantiate(cfg)")
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name="network", overrides=args)
    return instantiate(cfg.model.net)


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
