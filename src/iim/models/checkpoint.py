"""Rebuild an :class:`~iim.models.IIMNet` from a checkpoint of a :class:`~iim.tasks.LocatorTask`, without Lightning.

The task stores, beside Lightning's usual content, an ``"iim"`` entry with the network's resolved Hydra config,
the normalisation statistics and the inference settings; :func:`load_network` instantiates the network from it and
loads the weights. Hydra is imported only when called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from iim.models.network import IIMNet
from iim.ops.normalize import IMAGENET_MEAN, IMAGENET_STD
from iim.ops.split import SPLIT_MIN_DISTANCE

__all__ = ["CheckpointInfo", "build_from_config", "load_network", "load_state_dict_file"]


@dataclass
class CheckpointInfo:
    """What a checkpoint says about using its network.

    Attributes:
        path: The checkpoint file.
        net_config: The network's resolved config (``_target_`` nodes).
        mean: RGB mean in [0, 1] the network was trained with.
        std: RGB standard deviation.
        inference: Keyword arguments of :func:`~iim.ops.tiled_inference`.
        min_area: Smallest component counted as a head.
        connectivity: 4 or 8.
        split_heads: Whether components holding several confidence peaks are cut into one head per peak (the
            task's validation setting, e.g. a recipe's; ``False`` in checkpoints written before it was stored).
        split_min_distance: With ``split_heads``: least distance in pixels between two peaks that count as two heads.
        epoch: Training epoch of the checkpoint (``None`` if unknown).
        global_step: Optimizer steps of the checkpoint (``None`` if unknown).
    """

    path: Path
    net_config: dict[str, Any]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    inference: dict[str, Any] = field(default_factory=dict)
    min_area: int = 3
    connectivity: int = 4
    split_heads: bool = False
    split_min_distance: int = SPLIT_MIN_DISTANCE
    epoch: int | None = None
    global_step: int | None = None


def load_network(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[IIMNet, CheckpointInfo]:
    """Load the network of an ``iim-train`` checkpoint (``last.ckpt``, ``best-*.ckpt``).

    Args:
        path: The checkpoint file.
        map_location: Device for the weights.

    Returns:
        The network in eval mode with the checkpoint's weights, and the checkpoint's :class:`CheckpointInfo`.

    Raises:
        FileNotFoundError: No such file.
        ValueError: The file is not an iim checkpoint (the message says what it holds instead).
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # not a torch file, or a pickled object we do not load
        raise ValueError(f"{path}: cannot read it as a PyTorch checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(checkpoint, dict) or "iim" not in checkpoint or "state_dict" not in checkpoint:
        keys = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(
            f"{path}: not an iim checkpoint (a LocatorTask's: expected the keys 'state_dict' and 'iim', found {keys}). "
            "Weights of the original IIM code load with iim.models.load_original_checkpoint."
        )
    meta = checkpoint["iim"]
    if not meta.get("net_config"):
        raise ValueError(
            f"{path}: the checkpoint has no network config (its LocatorTask's network held a part that cannot be "
            "written as config); rebuild the network in Python and load the weights with load_state_dict_file"
        )
    net = instantiate(OmegaConf.create(_no_pretrained(meta["net_config"])))
    _load_checked(net, _strip_prefix(checkpoint["state_dict"]), str(path))
    info = CheckpointInfo(
        path=path,
        net_config=meta["net_config"],
        mean=tuple(meta.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
        std=tuple(meta.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
        inference=dict(meta.get("inference", {})),
        min_area=int(meta.get("min_area", 3)),
        connectivity=int(meta.get("connectivity", 4)),
        split_heads=bool(meta.get("split_heads", False)),
        split_min_distance=int(meta.get("split_min_distance", SPLIT_MIN_DISTANCE)),
        epoch=checkpoint.get("epoch"),
        global_step=checkpoint.get("global_step"),
    )
    return net.eval(), info


def _strip_prefix(state: dict[str, Any], prefix: str = "net.") -> dict[str, Any]:
    """The network's part of a LightningModule state dict (``net.*`` keys, prefix removed); other dicts as they are."""
    if any(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return dict(state)


def _load_checked(net: torch.nn.Module, state: dict[str, Any], where: str) -> None:
    """``load_state_dict`` that names what does not fit (missing and unexpected keys, shape mismatches)."""
    own = net.state_dict()
    wrong = [f"{k} {tuple(v.shape)} (network: {tuple(own[k].shape)})" for k, v in state.items()
             if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]  # fmt: skip
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if wrong or missing or unexpected:
        raise ValueError(
            f"{where}: the weights do not fit the network of its config: {len(missing)} missing {missing[:8]}, "
            f"{len(unexpected)} unexpected {unexpected[:8]}, {len(wrong)} of another shape {wrong[:4]}"
        )
    net.load_state_dict(state)


def build_from_config(config: str | os.PathLike[str] | Any) -> tuple[IIMNet, dict[str, Any]]:
    """Instantiate a network (random weights, ``pretrained`` off) from its config.

    Args:
        config: A YAML file or a mapping: the network's ``_target_`` node, or a whole run config with
            ``model.net`` (``.hydra/config.yaml`` of an ``iim-train`` run).

    Returns:
        The network and the run config's ``data`` node as a plain dict (empty for a bare network node).

    Raises:
        FileNotFoundError: A config file that does not exist.
        ValueError: A config without a network node.
    """
    from hydra.utils import instantiate
    from omegaconf import DictConfig, OmegaConf

    if isinstance(config, (str, os.PathLike)):
        path = Path(config).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"network config {str(path)!r} does not exist")
        cfg = OmegaConf.load(path)
    else:
        cfg = config if isinstance(config, DictConfig) else OmegaConf.create(dict(config))
    data: dict[str, Any] = {}
    if "model" in cfg and "net" in cfg.model:
        if "data" in cfg:
            data = {k: cfg.data.get(k) for k in ("mean", "std") if cfg.data.get(k) is not None}
            data = OmegaConf.to_container(OmegaConf.create(data), resolve=True)  # type: ignore[assignment]
        cfg = cfg.model.net
    if "_target_" not in cfg:
        raise ValueError(
            "the config is neither a network node (with `_target_`) nor a run config with `model.net`; found keys "
            f"{sorted(cfg)[:8]}"
        )
    node = OmegaConf.to_container(cfg, resolve=True)
    net = instantiate(OmegaConf.create(_no_pretrained(node)))
    if not isinstance(net, IIMNet):
        raise ValueError(f"the config builds a {type(net).__name__}, not an iim.models.IIMNet")
    return net, data


def load_state_dict_file(net: torch.nn.Module, weights: str | os.PathLike[str] | Any) -> None:
    """Load a state dict (a file or a mapping; a Lightning checkpoint's ``state_dict`` works too) into ``net``.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a state dict, or weights that do not fit (missing / unexpected keys and shapes named).
    """
    where = "weights"
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
        where = str(path)
        try:
            weights = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path}: cannot read it as a PyTorch file ({type(err).__name__}: {err})") from err
    if isinstance(weights, dict) and isinstance(weights.get("state_dict"), dict):
        weights = weights["state_dict"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ValueError(f"{where}: not a state dict (a mapping of parameter names to tensors)")
    _load_checked(net, _strip_prefix(weights), where)


def _no_pretrained(config: Any) -> Any:
    """A copy of the config with every ``pretrained`` switched off (the checkpoint brings the weights)."""
    if isinstance(config, dict):
        return {k: (False if k == "pretrained" else _no_pretrained(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [_no_pretrained(v) for v in config]
    return config
