"""Logging: CSV, TensorBoard and wandb (offline, no account) receive the metrics, the resolved config and the
prediction pictures."""

from __future__ import annotations

import pytest

from helpers.configs import FAST, compose_train
from iim.cli.train import train


@pytest.mark.slow
def test_csv_tensorboard_and_offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    overrides = [*[o for o in FAST if not o.startswith(("callbacks", "logger"))], "+experiment=smoke", "logger=many",
                 "callbacks=default", "callbacks.progress_bar=null", "trainer.max_epochs=1"]  # fmt: skip
    result = train(compose_train(overrides, tmp_path))
    assert "val/f1" in result["metrics"]
    assert "val/f1" in (tmp_path / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert list((tmp_path / "csv" / "images").rglob("*_matches.png"))
    assert list((tmp_path / "csv" / "images").rglob("*_maps.png"))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs and list(runs[0].glob("*.wandb"))
    assert "seed: 3035" in (tmp_path / "config_resolved.yaml").read_text()
