"""``LastCheckpoint``: the resume point of a run, written after every training epoch, atomically.

Lightning's ``ModelCheckpoint(save_last=True, save_top_k=0)`` writes ``last.ckpt`` only when it saved another
checkpoint at the same step (pytorch-lightning >= 2.5), which with ``save_top_k=0`` means only at the very end of
``fit``: a run killed in epoch 7 of 8 had nothing to resume from. This callback writes the checkpoint itself:

- after every training epoch (after that epoch's validation, so the best-model bookkeeping is in it too);
- atomically: the state goes to ``<name>.part`` and is renamed over ``<name>``, so a run killed while saving keeps
  the previous resume point intact;
- never over another run's file: when ``<name>`` exists in ``dirpath`` and this run did not resume from it, the
  checkpoint goes to ``last-v1.ckpt`` (``-v2`` ...), as Lightning's version counter does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.trainer.states import TrainerFn


class LastCheckpoint(Checkpoint):
    """Save the full training state (weights, optimizers, schedulers, loops, callbacks) as ``dirpath/filename``.

    Args:
        dirpath: folder of the checkpoint (created when missing).
        filename: file name, ``last.ckpt`` by default; it must end in ``.ckpt``.
    """

    def __init__(self, dirpath: str | os.PathLike[str], filename: str = "last.ckpt") -> None:
        super().__init__()
        if not str(filename).endswith(".ckpt") or Path(filename).name != str(filename):
            raise ValueError(f"LastCheckpoint: filename must be a plain file name ending in .ckpt, got {filename!r}")
        self.dirpath = Path(dirpath)
        self.filename = str(filename)
        self.path: Path | None = None  # chosen at the first save
        self._saved_at_step = -1

    @property
    def state_key(self) -> str:
        return f"LastCheckpoint{{dirpath={str(self.dirpath)!r}, filename={self.filename!r}}}"

    def _target(self, trainer: pl.Trainer) -> Path:
        if self.path is None:
            resumed = trainer.ckpt_path
            resumed = Path(resumed).resolve() if resumed else None
            stem = self.filename[: -len(".ckpt")]
            path, version = self.dirpath / self.filename, 0
            while path.exists() and path.resolve() != resumed:
                version += 1
                path = self.dirpath / f"{stem}-v{version}.ckpt"
            self.path = path
        return self.path

    def _skip(self, trainer: pl.Trainer) -> bool:
        return (
            bool(trainer.fast_dev_run)
            or trainer.state.fn != TrainerFn.FITTING
            or trainer.sanity_checking
            or self._saved_at_step == trainer.global_step
        )

    def save(self, trainer: pl.Trainer) -> Path:
        """Write the checkpoint now (all ranks call this; rank 0 writes and renames). Returns its path."""
        path = self._target(trainer)
        part = path.with_name(path.name + ".part")
        if trainer.is_global_zero:
            path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(part, weights_only=False)  # a whole resume point (and no "not set" notice)
        if trainer.is_global_zero:
            os.replace(part, path)
        trainer.strategy.barrier("LastCheckpoint.save")
        self._saved_at_step = trainer.global_step
        return path

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._skip(trainer):
            self.save(trainer)
