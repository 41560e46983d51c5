"""LocatorTask under a real Trainer on synthetic data: steps, accumulation, clipping, mixed precision, resume,
validation schedule, guards."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from helpers.configs import FAST, compose_train
from iim.callbacks import LastCheckpoint
from iim.tasks import LocatorTask, NonFiniteLossError, ThresholdCollapseError

SMOKE = ["+experiment=smoke", *FAST]


def _build(tmp_path, overrides=()):
    cfg = compose_train([*SMOKE, *overrides], tmp_path)
    return cfg, instantiate(cfg.data), instantiate(cfg.model)


def _trainer(cfg, **kwargs):
    kwargs.setdefault("logger", False)
    kwargs.setdefault("callbacks", [])
    return instantiate(cfg.trainer, **kwargs)


class _Record(pl.Callback):
    def __init__(self):
        self.val_epochs, self.grad_norms = [], []

    def on_validation_start(self, trainer, pl_module):
        self.val_epochs.append(trainer.current_epoch)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        norms = [p.grad.detach().norm() for p in pl_module.parameters() if p.grad is not None]
        self.grad_norms.append(float(torch.stack(norms).norm()))


def test_one_optimizer_step_per_batch_and_metrics_logged(tmp_path):
    cfg, dm, model = _build(tmp_path)
    trainer = _trainer(cfg, max_epochs=1)
    trainer.fit(model, dm)
    assert trainer.global_step == 2  # 8 images / batch 4: one step per batch (both optimizers step together)
    metrics = trainer.callback_metrics
    for key in (
        "train/loss",
        "val/f1",
        "val/precision",
        "val/recall",
        "val/mae",
        "val/mse",
        "val/nae",
        "val/recall_a0",
        "val/recall_mean",
        "lr/confidence",
        "lr/threshold",
    ):
        assert key in metrics, key
    assert math.isfinite(float(metrics["train/loss"]))


def test_accumulation_halves_the_optimizer_steps(tmp_path):
    cfg, dm, model = _build(tmp_path, ["model.accumulate_grad_batches=2", "data.batch_size=2"])
    trainer = _trainer(cfg, max_epochs=1, limit_val_batches=0)
    trainer.fit(model, dm)
    assert trainer.global_step == 2  # 4 batches, a step every 2


def test_gradient_clipping(tmp_path):
    cfg, dm, model = _build(tmp_path, ["model.gradient_clip_val=1e-3"])
    record = _Record()
    trainer = _trainer(cfg, max_epochs=1, limit_val_batches=0, callbacks=[record])
    trainer.fit(model, dm)
    assert record.grad_norms and max(record.grad_norms) <= 1e-3 * 1.01


def test_bf16_mixed_precision_trains(tmp_path):
    cfg, dm, model = _build(tmp_path, ["trainer.precision=bf16-mixed"])
    before = [p.detach().clone() for p in model.parameters()]
    trainer = _trainer(cfg, max_epochs=1)
    trainer.fit(model, dm)
    assert math.isfinite(float(trainer.callback_metrics["train/loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_resume_continues_from_the_saved_step(tmp_path):
    cfg, dm, model = _build(tmp_path)
    ckpt_cb = LastCheckpoint(tmp_path / "ckpt")
    trainer = _trainer(cfg, max_epochs=1, callbacks=[ckpt_cb], limit_val_batches=0)
    trainer.fit(model, dm)
    last = tmp_path / "ckpt" / "last.ckpt"
    state = torch.load(last, weights_only=False)
    assert state["global_step"] == 2
    cfg2, dm2, model2 = _build(tmp_path)
    resumed = _trainer(cfg2, max_epochs=2, limit_val_batches=0)
    seen = {}

    class Peek(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            group = trainer.optimizers[0]
            seen["step"] = trainer.global_step
            seen["adam_step"] = float(next(iter(group["confidence"].state.values()))["step"])
            seen["lr"] = group.param_groups[0]["lr"]

    resumed.callbacks.append(Peek())
    resumed.fit(model2, dm2, ckpt_path=str(last))
    assert seen["step"] == 2 and seen["adam_step"] == 2.0
    assert seen["lr"] == pytest.approx(
        state["optimizer_states"][0]["optimizers"]["confidence"]["param_groups"][0]["lr"]
    )
    assert resumed.global_step == 4


def test_validation_schedule(tmp_path):
    cfg, dm, model = _build(tmp_path, ["model.val_start_epoch=1", "model.val_every_n_epochs=2"])
    record = _Record()
    trainer = _trainer(cfg, max_epochs=4, callbacks=[record], limit_train_batches=1)
    trainer.fit(model, dm)
    assert record.val_epochs == [1, 3]  # the original: from epoch 24 every 4 -> 24, 28, ...


def test_nonfinite_loss_stops_or_skips(tmp_path):
    cfg, dm, model = _build(tmp_path)
    model.loss.mse_weight = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss.*model\.on_nonfinite=skip"):
        _trainer(cfg, max_epochs=1, limit_val_batches=0).fit(model, dm)
    cfg, dm, model = _build(tmp_path, ["model.on_nonfinite=skip", "model.max_skipped_batches=5"])
    model.loss.mse_weight = float("nan")
    before = [p.detach().clone() for p in model.parameters()]
    trainer = _trainer(cfg, max_epochs=1, limit_val_batches=0)
    trainer.fit(model, dm)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # every batch skipped, nothing stepped


def test_threshold_collapse_is_detected(tmp_path):
    cfg, dm, model = _build(tmp_path, ["model.on_threshold_collapse=stop", "model.collapse_patience=1"])
    encoder = model.net.threshold_encoder
    torch.nn.init.constant_(encoder.project.weight, -100.0)  # drives the compressed sigmoid to its 0.2 floor
    with pytest.raises(ThresholdCollapseError, match="collapsed"):
        _trainer(cfg, max_epochs=1, limit_val_batches=0).fit(model, dm)


def test_task_argument_errors():
    from iim.models import build_network

    net = build_network("test_resnet_fpn", "pbm")
    with pytest.raises(ValueError, match="on_nonfinite"):
        LocatorTask(net, on_nonfinite="ignore")
    with pytest.raises(ValueError, match="val_every_n_epochs"):
        LocatorTask(net, val_every_n_epochs=0)
