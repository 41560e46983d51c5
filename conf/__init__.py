"""Hydra configuration tree of iim (shipped inside the package as ``iim.conf``).

Importing this package registers the OmegaConf resolvers the configs use. Hydra imports it whenever it loads configs
from ``pkg://iim.conf`` (every ``iim-*`` command, :func:`iim.models.build_network`, ``initialize_config_module``),
and :mod:`iim.cli._common` imports it too, for launcher workers that receive an already composed config.

Resolvers:
    ``${iim.gpu_precision:}``: the mixed precision of ``trainer=gpu`` / ``trainer=ddp`` (:func:`gpu_precision`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["gpu_precision", "register_resolvers"]


def gpu_precision() -> str:
    """Lightning's ``precision`` for GPU training on this machine.

    ``"bf16-mixed"`` on a GPU with native bfloat16 (compute capability 8.0+: A100, H100, RTX 30xx, ...),
    ``"16-mixed"`` (float16 with a gradient scaler) on older GPUs (V100, T4, ...), whose bfloat16 is emulated and
    slow. Without CUDA it also gives ``"bf16-mixed"``: the config then describes a GPU run composed elsewhere (a login
    node, CI, the golden files of the experiments), and ``"bf16-mixed"`` is what such a run gets on the GPUs the
    experiments were set up for; with ``trainer.accelerator=cpu`` it runs as CPU bfloat16 autocast.

    It asks the driver for the device's properties, which initialises CUDA in the calling process; with a
    fork-based strategy (``ddp_fork``, ``ddp_notebook``) set ``trainer.precision`` explicitly instead.
    """
    import torch

    if not torch.cuda.is_available():
        return "bf16-mixed"
    try:  # torch >= 2.3 counts emulated bfloat16 as supported unless told not to
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # pragma: no cover - older torch
        native = torch.cuda.is_bf16_supported()
    return "bf16-mixed" if native else "16-mixed"


_RESOLVERS: dict[str, Callable[..., Any]] = {"iim.gpu_precision": gpu_precision}


def register_resolvers() -> None:
    """Register iim's OmegaConf resolvers (idempotent: a name that is already registered is left as it is)."""
    from omegaconf import OmegaConf

    for name, resolver in _RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


register_resolvers()
