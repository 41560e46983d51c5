"""``iim-train``: train an IIM locator from the Hydra config tree (``conf/train.yaml``).

iim-train                                        # the built-in demo: synthetic crowds, EfficientNet-Lite0, CPU
iim-train +experiment=nwpu_hrnet_pbm data.root=/data/NWPU-Crowd
iim-train +experiment=shhb_vgg_pbm ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt   # resume
iim-train -m +hparams=ablation                    # the paper's Table 3 grid
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from iim.callbacks import LastCheckpoint
from iim.cli._common import fail, instantiate_group, print_table, root_cause
from iim.cli.console import quiet_library_notices
from iim.data.records import DatasetError
from iim.io import ImageReadError
from iim.models.pretrained import PretrainedWeightsUnavailableError

__all__ = ["main", "train"]

_USER_ERRORS = (DatasetError, ImageReadError, PretrainedWeightsUnavailableError, FileNotFoundError)


def _fmt(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Build the datamodule, task, callbacks, loggers and trainer from ``cfg`` and fit.

    Returns:
        ``{"metrics": {name: value}, "best_checkpoint": path, "last_checkpoint": path, "output_dir": path}``.
    """
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    quiet_library_notices()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    output_dir = Path(cfg.paths.output_dir)
    datamodule = instantiate(cfg.data)
    datamodule.source  # noqa: B018 - build the reader now: a missing dataset fails before the model is built
    model = instantiate(cfg.model)  # its checkpoints hold the network's own config (iim.modules.Configurable)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    # a configured summary callback (callbacks.model_summary) stands in for the trainer's default one
    summary = (
        {"enable_model_summary": False} if any(isinstance(c, pl.callbacks.ModelSummary) for c in callbacks) else {}
    )
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **summary)
    resolved = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(resolved))
    for logger in loggers:
        logger.log_hyperparams(resolved)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    best_score = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    if best and best_score is not None:
        metrics["best/" + str(trainer.checkpoint_callback.monitor)] = float(best_score)
    # the file this run's LastCheckpoint wrote (last-vN.ckpt when another run's last.ckpt was already there)
    written = [c.path for c in trainer.callbacks if isinstance(c, LastCheckpoint) and c.path and c.path.exists()]
    last = str(written[0]) if written else ""
    if cfg.get("test"):
        test = trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in (test[0] if test else {}).items()})
    return {"metrics": metrics, "best_checkpoint": best, "last_checkpoint": last, "output_dir": str(output_dir)}


def summarize(result: dict[str, Any]) -> None:
    """Print the end-of-run table: validation metrics and where the checkpoints and logs went."""
    m = result["metrics"]
    rows = [
        (name, _fmt(m[key]))
        for name, key in (
            ("val F1 (sigma_l), last epoch", "val/f1"),
            ("val precision", "val/precision"),
            ("val recall", "val/recall"),
            ("val MAE", "val/mae"),
            ("val MSE (RMSE)", "val/mse"),
            ("val NAE", "val/nae"),
            ("best val F1 (best checkpoint)", "best/val/f1"),
            ("test F1", "test/f1"),
            ("test MAE", "test/mae"),
        )
        if key in m
    ]
    rows += [
        ("best checkpoint", result["best_checkpoint"] or "-"),
        ("last checkpoint", result["last_checkpoint"] or "-"),
        ("logs and config", result["output_dir"]),
    ]
    print_table("iim-train finished", rows)


@hydra.main(version_base="1.3", config_path="pkg://iim.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Entry point of ``iim-train``; returns ``cfg.optimized_metric`` for sweepers. Every run, a failed one too,
    ends with ``<output_dir>/summary.json`` (:func:`iim.cli.sweep_table.write_summary`), which a sweep's table reads."""
    from iim.cli.sweep_table import RunClock, write_summary

    clock = RunClock()
    try:
        result = train(cfg)
    except BaseException as err:
        write_summary(OmegaConf.select(cfg, "paths.output_dir", throw_on_resolution_failure=False), clock, error=err)
        if isinstance(err, Exception) and isinstance(root_cause(err), _USER_ERRORS):
            fail("iim-train", err)
        raise
    write_summary(result["output_dir"], clock, result=result)
    summarize(result)
    metric = cfg.get("optimized_metric")
    return result["metrics"].get(metric) if metric else None


if __name__ == "__main__":
    main()
