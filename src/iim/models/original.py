"""Load weights of the original IIM code (taohan10200/IIM ``Crowd_locator``) into iim's networks.

The original saves ``Crowd_locator.state_dict()``: the confidence predictor under ``Extractor.`` (``VGG16_FPN`` or
the HRNet-W48 ``HighResolutionNet``) and the pixel-level binarization module under ``Binar.``; with two GPUs each of
the two is wrapped in ``DataParallel`` (``Extractor.module.``), and a whole-model wrapper adds ``module.`` in front.
``latest_state.pth`` holds the state dict under ``"net"``. The key names map onto iim's as follows (method.md
section 2 gives the structures):

==========================================  ===================================================================
original                                    iim (:class:`~iim.models.IIMNet`)
==========================================  ===================================================================
``Extractor.layer1.{k}``  (VGG)             ``predictor.backbone.body.features_{k}`` (timm ``vgg16_bn``)
``Extractor.layer2.{k}``, ``layer3.{k}``    ``...features_{23 + k}``, ``...features_{33 + k}``
``Extractor.neck.lateral_convs.{i}.conv``   ``predictor.neck.lateral.{i}.0`` (``.bn`` -> ``.1``)
``Extractor.neck.fpn_convs.{i}.conv``       ``predictor.neck.output.{i}.0`` (``.bn`` -> ``.1``)
``Extractor.de_pred.{0,1,3,5}``  (VGG)      ``predictor.head.project.{0,1}``, ``predictor.head.upsample.{0,2}``
``Extractor.last_layer.{0,1,3,5}`` (HRNet)  the same head keys
``Extractor.<anything else>`` (HRNet)       ``predictor.backbone.body.<the same>`` (timm ``hrnet_w48``)
``Binar.Threshold_Module.{0..5}``           ``threshold_encoder.encoder.{0..5}``
``Binar.Threshold_Module.7``                ``threshold_encoder.project``
``Binar.weight``, ``Binar.bias``            ignored: created but never used in the original's forward
==========================================  ===================================================================

The architecture (VGG16_FPN or HRNet) is read from the keys. Every tensor must land on a parameter or buffer of the
same shape and every parameter must be given; otherwise the error names the keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from iim.models.network import IIMNet

__all__ = ["NWPU_MEAN_STD", "convert_original_state_dict", "is_original_checkpoint", "load_original_checkpoint"]


def _dataset_mean_std(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``mean`` and ``std`` of ``conf/data/<name>.yaml``, the one place a dataset's statistics are written (read as
    plain YAML, without importing the config package and its Hydra resolvers)."""
    import importlib.util

    import yaml

    spec = importlib.util.find_spec("iim.conf")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a broken install
        raise RuntimeError("iim.conf (the shipped configs) is missing from this installation")
    node = yaml.safe_load((Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.yaml").read_text())
    return tuple(float(v) for v in node["mean"]), tuple(float(v) for v in node["std"])


#: The original's NWPU-Crowd normalisation (``datasets/setting/NWPU.py``, as ``conf/data/nwpu.yaml`` holds it), used
#: when a checkpoint of the original code brings none.
NWPU_MEAN_STD = _dataset_mean_std("nwpu")

_IGNORED = ("Binar.weight", "Binar.bias")
_HEAD = {"0": "project.0", "1": "project.1", "3": "upsample.0", "5": "upsample.2"}
_VGG_OFFSETS = {"layer1": 0, "layer2": 23, "layer3": 33}


def _unwrap(state: Mapping[str, Any]) -> dict[str, Any]:
    """Drop DataParallel's ``module.`` (in front and after ``Extractor.`` / ``Binar.``)."""
    out = {}
    for key, value in state.items():
        k = key[len("module.") :] if key.startswith("module.") else key
        k = re.sub(r"^(Extractor|Binar)\.module\.", r"\1.", k)
        out[k] = value
    return out


def _state_of(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, Mapping) and isinstance(obj.get("net"), Mapping):  # latest_state.pth
        obj = obj["net"]
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        return None
    state = _unwrap(obj)
    if not any(k.startswith("Extractor.") for k in state) or not any(k.startswith("Binar.") for k in state):
        return None
    return state


def _read(path: str | os.PathLike[str]) -> Any:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: cannot read it as a PyTorch checkpoint ({type(err).__name__}: {err})") from err


def is_original_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a state dict of the original code's ``Crowd_locator`` (False for anything else).

    The file is memory-mapped, so asking costs little even for a large checkpoint of another kind.
    """
    try:
        obj = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format torch file (mmap needs one), or not a torch file at all
        try:
            obj = _read(path)
        except (FileNotFoundError, ValueError):
            return False
    return _state_of(obj) is not None


def _architecture(state: Mapping[str, Any]) -> str:
    if any(k.startswith("Extractor.de_pred.") for k in state):
        return "vgg16_fpn"
    if any(k.startswith("Extractor.last_layer.") for k in state):
        return "hrnet_w48"
    raise ValueError(
        "not a VGG16_FPN (Extractor.de_pred.*) or HRNet (Extractor.last_layer.*) Crowd_locator state dict; its "
        f"Extractor keys start {sorted(k for k in state if k.startswith('Extractor.'))[:4]}"
    )


def _rename(key: str, arch: str) -> str | None:
    """The iim key of an original key, or ``None`` when there is no rule for it."""
    parts = key.split(".")
    if parts[0] == "Binar" and len(parts) >= 3 and parts[1] == "Threshold_Module":
        index, rest = parts[2], ".".join(parts[3:])
        if index in {"0", "1", "2", "3", "4", "5"}:
            return f"threshold_encoder.encoder.{index}.{rest}"
        if index == "7":
            return f"threshold_encoder.project.{rest}"
        return None
    if parts[0] != "Extractor" or len(parts) < 3:
        return None
    top, rest = parts[1], parts[2:]
    head = "de_pred" if arch == "vgg16_fpn" else "last_layer"
    if top == head:
        return f"predictor.head.{_HEAD[rest[0]]}.{'.'.join(rest[1:])}" if rest[0] in _HEAD else None
    if arch == "vgg16_fpn":
        if top in _VGG_OFFSETS and rest[0].isdigit():
            return f"predictor.backbone.body.features_{_VGG_OFFSETS[top] + int(rest[0])}.{'.'.join(rest[1:])}"
        if top == "neck" and len(rest) >= 4 and rest[0] in ("lateral_convs", "fpn_convs"):
            layer = "lateral" if rest[0] == "lateral_convs" else "output"
            sub = {"conv": "0", "bn": "1"}.get(rest[2])
            return f"predictor.neck.{layer}.{rest[1]}.{sub}.{'.'.join(rest[3:])}" if sub else None
        return None
    return f"predictor.backbone.body.{'.'.join(parts[1:])}"


def convert_original_state_dict(state: Mapping[str, Any], net: IIMNet, arch: str) -> dict[str, torch.Tensor]:
    """Rename an original ``Crowd_locator`` state dict (``module.`` prefixes removed) to ``net``'s keys.

    Raises:
        ValueError: naming every original key without a place in ``net`` (unknown), every parameter of ``net``
            that the state dict does not give (missing) and every shape mismatch.
    """
    own = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    unknown, wrong = [], []
    for key, value in state.items():
        if key in _IGNORED:
            continue
        new = _rename(key, arch)
        if new is None or new not in own:
            unknown.append(key)
        elif tuple(value.shape) != tuple(own[new].shape):
            wrong.append(f"{key} {tuple(value.shape)} -> {new} {tuple(own[new].shape)}")
        else:
            out[new] = value
    missing = [k for k in own if k not in out and not k.endswith("num_batches_tracked")]
    if unknown or missing or wrong:
        raise ValueError(
            f"the original {arch} checkpoint does not fit iim's {arch} network: {len(unknown)} unknown key(s) "
            f"{unknown[:10]}, {len(missing)} missing {missing[:10]}, {len(wrong)} of another shape {wrong[:5]}"
        )
    for k in own:  # buffers the original may lack (older PyTorch wrote no num_batches_tracked)
        out.setdefault(k, own[k])
    return out


def load_original_checkpoint(
    checkpoint: str | os.PathLike[str] | Mapping[str, Any], map_location: str | torch.device = "cpu"
) -> IIMNet:
    """An iim network with the weights of an original IIM checkpoint (VGG16_FPN or HRNet-W48 ``Crowd_locator``).

    Args:
        checkpoint: A ``.pth`` file of the original code (a ``Crowd_locator`` state dict, with or without
            ``DataParallel`` prefixes, or ``latest_state.pth`` with it under ``"net"``), or such a state dict.
        map_location: Device of the returned network.

    Returns:
        ``vgg16_fpn`` or ``hrnet_w48`` with the pixel-level threshold (PBM), in eval mode. Normalise its inputs with
        the statistics of the dataset it was trained on (:data:`NWPU_MEAN_STD` for NWPU-Crowd).

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not an original checkpoint, or keys that do not fit (named in the message).
    """
    from iim.models.factory import build_network

    where = "state dict"
    obj: Any = checkpoint
    if isinstance(checkpoint, (str, os.PathLike)):
        where = str(checkpoint)
        obj = _read(checkpoint)
    state = _state_of(obj)
    if state is None:
        keys = sorted(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{where}: not a checkpoint of the original IIM code (expected Extractor.* and Binar.* keys, found "
            f"{keys}); iim-train checkpoints load with iim.models.load_network"
        )
    arch = _architecture(state)
    net = build_network(arch, "pbm", **{"predictor.backbone.pretrained": False})
    try:
        converted = convert_original_state_dict(state, net, arch)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    net.load_state_dict(converted)
    return net.to(map_location).eval()
