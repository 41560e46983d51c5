"""LastCheckpoint: the resume point exists after every epoch (not only at the end of fit), is written atomically,
and never replaces another run's file."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from helpers.configs import FAST, compose_train
from iim.callbacks import LastCheckpoint
from iim.cli._common import instantiate_group

SMOKE = ["+experiment=smoke", *FAST]


class _Peek(pl.Callback):
    """At the start of every epoch after the first: the step stored in last.ckpt, and any leftover .part file."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch > 0:
            state = torch.load(self.path, weights_only=False, map_location="cpu")
            parts = list(self.path.parent.glob("*.part"))
            self.seen.append((trainer.current_epoch, state["global_step"], trainer.global_step, parts))


def _fit(tmp_path, callbacks, max_epochs, ckpt_path=None):
    cfg = compose_train(SMOKE, tmp_path)
    trainer = instantiate(cfg.trainer, max_epochs=max_epochs, callbacks=callbacks, logger=False, limit_val_batches=0)
    trainer.fit(instantiate(cfg.model), instantiate(cfg.data), ckpt_path=ckpt_path)
    return trainer


def test_default_config_writes_the_resume_point_after_every_epoch(tmp_path):
    cfg = compose_train([*SMOKE, "callbacks=default", "callbacks.progress_bar=null"], tmp_path)
    callbacks = [c for c in instantiate_group(cfg.callbacks) if isinstance(c, LastCheckpoint)]
    assert len(callbacks) == 1  # conf/callbacks/default.yaml's last_checkpoint is this callback
    peek = _Peek(tmp_path / "checkpoints" / "last.ckpt")
    _fit(tmp_path, [*callbacks, peek], max_epochs=3)
    # 8 images / batch 4 = 2 steps an epoch: before epochs 1 and 2 the file holds the state of the epoch just ended
    assert [(epoch, stored, now) for epoch, stored, now, _ in peek.seen] == [(1, 2, 2), (2, 4, 4)]
    assert all(not parts for *_, parts in peek.seen)
    assert torch.load(callbacks[0].path, weights_only=False)["global_step"] == 6


def test_resuming_into_the_same_folder_updates_that_file(tmp_path):
    folder = tmp_path / "ckpt"
    _fit(tmp_path, [LastCheckpoint(folder)], max_epochs=1)
    last = folder / "last.ckpt"
    resumed_cb = LastCheckpoint(folder)
    trainer = _fit(tmp_path, [resumed_cb], max_epochs=2, ckpt_path=str(last))
    assert trainer.global_step == 4
    assert resumed_cb.path == last and sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]
    assert torch.load(last, weights_only=False)["global_step"] == 4


def test_a_fresh_run_never_replaces_another_runs_file(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "last.ckpt").write_bytes(b"another run's weights")
    cb = LastCheckpoint(folder)
    _fit(tmp_path, [cb], max_epochs=1)
    assert (folder / "last.ckpt").read_bytes() == b"another run's weights"
    assert cb.path == folder / "last-v1.ckpt"
    assert torch.load(cb.path, weights_only=False)["global_step"] == 2


@pytest.mark.parametrize("name", ["last", "sub/last.ckpt"])
def test_bad_filename_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="filename"):
        LastCheckpoint(tmp_path, filename=name)


def test_iim_train_reports_the_file_this_run_wrote(tmp_path):
    # other runs' files in the same folder: iim-train's result (and summary) names the one this run wrote
    from iim.cli.train import train

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for v in range(1, 6):  # stale versions of earlier runs; this run takes the free name last.ckpt
        (folder / f"last-v{v}.ckpt").write_bytes(b"another run's weights")
    overrides = [*SMOKE, "callbacks=default", "callbacks.progress_bar=null", "callbacks.prediction_images=null"]
    result = train(compose_train([*overrides, "callbacks.model_summary=null", "trainer.max_epochs=1"], tmp_path))
    assert result["last_checkpoint"] == str(folder / "last.ckpt")
    assert torch.load(result["last_checkpoint"], weights_only=False)["global_step"] == 2
    (folder / "last.ckpt").write_bytes(b"this run's weights, kept")
    result = train(compose_train([*overrides, "callbacks.model_summary=null", "trainer.max_epochs=1"], tmp_path))
    assert result["last_checkpoint"] == str(folder / "last-v6.ckpt")
    assert (folder / "last.ckpt").read_bytes() == b"this run's weights, kept"
