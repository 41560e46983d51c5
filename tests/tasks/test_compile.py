"""LocatorTask's ``compile`` and ``channels_last`` (set up in ``configure_model``): the compiled network gives the eager
loss and gradients, its checkpoints keep the ``net.*`` keys and load with :func:`iim.models.load_network`, and the
layout follows the device (channels-last on CUDA) unless forced.

The fast tests compile with dynamo's ``eager`` backend (graph capture only); the slow ones with ``aot_eager`` (AOT
autograd, no code generation) and inductor, which needs a C++ compiler and minutes of a cold CPU.
"""

from __future__ import annotations

import copy
import shutil
from types import SimpleNamespace
from typing import Any

import pytest
import pytorch_lightning as pl
import torch

from iim.losses import IIMLoss
from iim.models import build_network, load_network
from iim.tasks import LocatorTask


def _batch(size: tuple[int, int] = (64, 64), batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """A uint8 channels-last image batch (as the pipeline gives) and an instance map of a few square heads.

    Shape:
        - image: :math:`(B, 3, H, W)` uint8, channels-last
        - instance_map: :math:`(B, 1, H, W)` uint8 in {0, 1}
    """
    g = torch.Generator().manual_seed(seed)
    h, w = size
    image = torch.randint(0, 256, (batch, h, w, 3), generator=g, dtype=torch.uint8).permute(0, 3, 1, 2)
    instance_map = torch.zeros(batch, 1, h, w, dtype=torch.uint8)
    for b in range(batch):
        for y, x in torch.randint(2, min(h, w) - 4, (6, 2), generator=g).tolist():
            instance_map[b, 0, y : y + 3, x : x + 3] = 1
    return {"image": image, "instance_map": instance_map}


def _loss_and_grads(task: LocatorTask, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
    task.net.zero_grad()
    out = task(task.normalize(batch["image"]))
    loss = IIMLoss()(out, batch["instance_map"].to(out.confidence.dtype))["loss"]
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in task.net.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads


def _compare_compiled(predictor: str, compile_arg: Any, rtol: float, exact: bool = True, **overrides: Any) -> None:
    """Eager and compiled copies of one network: the same keys, loss and gradients on one batch.

    ``exact``: every gradient element within ``rtol`` (graph capture, AOT autograd: the same kernels). Otherwise
    (inductor, whose fused kernels sum in another order) the loss within ``rtol`` and all gradients together within
    a relative norm of 5e-2: biases ahead of a BatchNorm have a true gradient of 0, so theirs are rounding noise on
    either side, and the hard binary map's L1 gradient flips where confidence and threshold nearly tie.
    """
    torch.manual_seed(0)
    net = build_network(predictor, "pbm", **overrides).train()
    eager = LocatorTask(copy.deepcopy(net))
    compiled = LocatorTask(net, compile=compile_arg)
    compiled.configure_model()
    assert compiled.net._compiled_call_impl is not None  # nn.Module.compile: compiled in place
    assert list(compiled.state_dict()) == list(eager.state_dict())
    assert not any("_orig_mod" in k for k in compiled.state_dict())
    batch = _batch()
    loss_e, grads_e = _loss_and_grads(eager, batch)
    loss_c, grads_c = _loss_and_grads(compiled, batch)
    assert loss_c == pytest.approx(loss_e, rel=rtol)
    assert grads_c.keys() == grads_e.keys() and grads_e
    if exact:
        for k, g in grads_e.items():
            torch.testing.assert_close(grads_c[k], g, rtol=rtol, atol=rtol * (float(g.abs().max()) + 1e-12), msg=k)
    else:
        flat_e = torch.cat([g.flatten() for g in grads_e.values()])
        flat_c = torch.cat([grads_c[k].flatten() for k in grads_e])
        assert float((flat_c - flat_e).norm() / flat_e.norm()) < 5e-2


def test_compiled_network_gives_the_eager_loss_and_gradients():
    _compare_compiled("test_resnet_fpn", {"backend": "eager"}, rtol=1e-5)


@pytest.mark.slow
def test_aot_autograd_compiled_network_gives_the_eager_loss_and_gradients():
    """AOT autograd (the compiled backward inductor builds on), without code generation: ~15-20 s."""
    _compare_compiled("test_resnet_fpn", {"backend": "aot_eager"}, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a cold inductor compile of the forward and backward: 5-10 minutes on 2 busy cores
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("gcc") is None, reason="inductor needs a C++ compiler")
def test_inductor_compiled_demo_network_gives_the_eager_loss():
    """The demo's EfficientNet-Lite0 + FPN + PBM under inductor (C++ kernels on CPU): a cold compile takes minutes."""
    _compare_compiled("efficientnet_lite0", True, rtol=1e-4, exact=False, **{"predictor.backbone.pretrained": False})


def _fit(task: LocatorTask, tmp_path: Any, steps: int = 2) -> pl.Trainer:
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    batches = [_batch(seed=s) for s in range(steps)]
    trainer.fit(task, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    return trainer


def test_compiled_task_trains_and_writes_loadable_checkpoints(tmp_path):
    torch.manual_seed(0)
    net = build_network("test_resnet_fpn", "pbm")
    eager_keys = list(LocatorTask(copy.deepcopy(net)).state_dict())
    task = LocatorTask(net, compile={"backend": "eager"})
    trainer = _fit(task, tmp_path)
    assert trainer.global_step == 2 and task.net._compiled_call_impl is not None
    trainer.save_checkpoint(tmp_path / "compiled.ckpt")
    state = torch.load(tmp_path / "compiled.ckpt", weights_only=True)["state_dict"]
    assert list(state) == eager_keys
    loaded, _ = load_network(tmp_path / "compiled.ckpt")
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, task.net.state_dict()[k]), k


def test_configure_model_runs_once():
    task = LocatorTask(build_network("test_resnet_fpn", "pbm"), compile={"backend": "eager"})
    task.configure_model()
    first = task.net._compiled_call_impl
    task.configure_model()  # Lightning calls it again for validate / test
    assert task.net._compiled_call_impl is first


def test_compile_argument_is_checked():
    with pytest.raises(ValueError, match="compile"):
        LocatorTask(build_network("test_resnet_fpn", "pbm"), compile="yes")  # type: ignore[arg-type]


def _conv_weights(task: LocatorTask) -> list[torch.Tensor]:
    """The conv weights whose two layouts differ (more than one input channel, kernels wider than 1)."""
    return [p for p in task.net.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1]


@pytest.mark.parametrize(
    ("channels_last", "device", "expected"),
    [(None, None, False), (None, "cpu", False), (None, "cuda", True), (True, "cpu", True), (False, "cuda", False)],
)
def test_channels_last_follows_the_device_unless_forced(channels_last, device, expected):
    task = LocatorTask(build_network("test_resnet_fpn", "pbm"), channels_last=channels_last)
    if device is not None:  # only the trainer's root device is consulted
        task._trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))
    assert task.wants_channels_last() is expected
    task.configure_model()
    weights = _conv_weights(task)
    assert weights
    assert all(w.is_contiguous(memory_format=torch.channels_last) == expected for w in weights)
    assert getattr(task.net, "_compiled_call_impl", None) is None  # compile is off by default


def test_channels_last_task_trains_on_cpu_with_the_eager_loss(tmp_path):
    torch.manual_seed(0)
    net = build_network("test_resnet_fpn", "pbm").train()
    eager = LocatorTask(copy.deepcopy(net))
    task = LocatorTask(net, channels_last=True)
    task.configure_model()
    batch = _batch()
    loss_e, _ = _loss_and_grads(eager, batch)
    loss_c, _ = _loss_and_grads(task, batch)
    assert loss_c == pytest.approx(loss_e, rel=1e-5)
    _fit(task, tmp_path)
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(task))
