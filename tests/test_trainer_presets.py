"""The GPU trainer presets: ``trainer=gpu`` / ``trainer=ddp`` resolve their precision with ``${iim.gpu_precision:}``
(bf16-mixed where the GPU has native bfloat16, 16-mixed on older GPUs, bf16-mixed when resolved without CUDA), the
resolver is registered wherever iim's configs are loaded, and ``trainer=ddp`` leaves the process-group backend to
Lightning, which takes gloo on CPU and nccl on CUDA devices. Nothing here needs a GPU or starts processes."""

from __future__ import annotations

import importlib
import subprocess
import sys

import iim.conf
import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers.configs import compose_train
from iim.models import build_network


@pytest.mark.parametrize(
    ("available", "native_bf16", "expected"),
    [(False, False, "bf16-mixed"), (True, True, "bf16-mixed"), (True, False, "16-mixed")],
)
def test_gpu_precision_choice(monkeypatch, available, native_bf16, expected):
    asked = {}

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        asked["including_emulation"] = including_emulation
        return native_bf16 or including_emulation  # emulated bfloat16 "is supported" unless excluded

    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert iim.conf.gpu_precision() == expected
    if available:
        assert asked == {"including_emulation": False}  # an emulated bfloat16 (V100, T4) counts as unsupported


@pytest.mark.parametrize("preset", ["gpu", "ddp"])
def test_preset_precision_resolves_on_this_machine(tmp_path, preset):
    cfg = compose_train([f"trainer={preset}"], tmp_path)
    assert OmegaConf.to_container(cfg.trainer, resolve=True)["precision"] == iim.conf.gpu_precision()
    if not torch.cuda.is_available():
        assert cfg.trainer.precision == "bf16-mixed"  # what the experiments' golden files hold


def test_resolver_registration_is_idempotent():
    iim.conf.register_resolvers()
    importlib.reload(iim.conf)  # registers again at import: no "already registered" error
    assert OmegaConf.has_resolver("iim.gpu_precision")


@pytest.mark.parametrize("way", ["compose", "build_network"])
def test_resolver_is_registered_where_configs_are_loaded(monkeypatch, request, way):
    """As in a fresh interpreter (``iim.conf`` not imported, no resolver): loading configs from ``pkg://iim.conf``
    imports the package, which registers the resolver."""
    monkeypatch.delitem(sys.modules, "iim.conf")  # the old module comes back after the test
    OmegaConf.clear_resolver("iim.gpu_precision")
    request.addfinalizer(iim.conf.register_resolvers)  # in case the way under test fails to
    if way == "compose":
        with initialize_config_module(config_module="iim.conf", version_base="1.3"):
            cfg = compose(config_name="train", overrides=["trainer=gpu"])
        assert cfg.trainer.precision in ("bf16-mixed", "16-mixed")
    else:
        build_network("test_resnet_fpn", "pbm")
    assert OmegaConf.has_resolver("iim.gpu_precision")


def test_command_modules_register_the_resolver():
    """Launcher workers (submitit) run an already composed config in a process that imports only the command's
    module: it registers the resolver itself."""
    code = "import iim.cli._common; from omegaconf import OmegaConf; assert OmegaConf.has_resolver('iim.gpu_precision')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_ddp_on_cpu_uses_gloo(tmp_path):
    from pytorch_lightning.strategies import DDPStrategy

    overrides = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "logger=csv"]
    cfg = compose_train(overrides, tmp_path)
    assert cfg.trainer.strategy == "ddp" and "process_group_backend" not in cfg.trainer
    trainer = instantiate(cfg.trainer, logger=False)  # no processes start before fit
    assert isinstance(trainer.strategy, DDPStrategy)
    assert trainer.num_devices == 2 and trainer.strategy.root_device.type == "cpu"
    assert trainer.strategy.process_group_backend is None  # left to Lightning ...
    assert trainer.strategy._get_process_group_backend() == "gloo"  # ... which picks gloo for CPU processes


def test_ddp_on_cuda_would_use_nccl():
    from lightning_fabric.utilities.distributed import _get_default_process_group_backend_for_device
    from pytorch_lightning.strategies import DDPStrategy

    cuda = torch.device("cuda", 0)
    assert _get_default_process_group_backend_for_device(cuda) == "nccl"
    strategy = DDPStrategy(parallel_devices=[cuda, torch.device("cuda", 1)])  # what trainer=ddp builds on 2 GPUs
    assert strategy.root_device == cuda and strategy._get_process_group_backend() == "nccl"
