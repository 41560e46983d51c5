"""Rebuild an :class:`~iim.models.IIMNet` from a checkpoint written by ``iim-train``, without Lightning.

``iim-train`` stores, beside Lightning's usual content, an ``"iim"`` entry with the network's resolved Hydra config,
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

__all__ = ["CheckpointInfo", "load_network"]


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
            f"{path}: not an iim-train checkpoint (expected the keys 'state_dict' and 'iim', found {keys}). "
            "Weights of the original IIM code load with iim.models.load_original_checkpoint."
        )
    meta = checkpoint["iim"]
    if not meta.get("net_config"):
        raise ValueError(f"{path}: the checkpoint has no network config; it was not written by iim-train")
    net = instantiate(OmegaConf.create(_no_pretrained(meta["net_config"])))
    prefix = "net."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: the weights do not fit the network of its config: missing {missing[:8]}, unexpected "
            f"{unexpected[:8]}"
        )
    info = CheckpointInfo(
        path=path,
        net_config=meta["net_config"],
        mean=tuple(meta.get("mean", (0.485, 0.456, 0.406))),  # type: ignore[arg-type]
        std=tuple(meta.get("std", (0.229, 0.224, 0.225))),  # type: ignore[arg-type]
        inference=dict(meta.get("inference", {})),
        min_area=int(meta.get("min_area", 3)),
        connectivity=int(meta.get("connectivity", 4)),
        epoch=checkpoint.get("epoch"),
        global_step=checkpoint.get("global_step"),
    )
    return net.eval(), info


def _no_pretrained(config: Any) -> Any:
    """A copy of the config with every ``pretrained`` switched off (the checkpoint brings the weights)."""
    if isinstance(config, dict):
        return {k: (False if k == "pretrained" else _no_pretrained(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [_no_pretrained(v) for v in config]
    return config
