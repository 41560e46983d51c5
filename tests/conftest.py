"""Shared test settings: hermetic (no hub, no update checks, no wandb), deterministic, fast."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import pytest

# torch is imported in the test processes only: under `pytest -n` the controlling process never needs it, and
# importing it there would delay starting the workers by its import time


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one process per core under `pytest -n`: no oversubscription
        import torch

        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    import torch

    torch.manual_seed(0)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``last.ckpt`` of a real ``iim-train`` run: the smoke experiment (test ResNet-FPN, PBM) for 2 epochs."""
    from helpers.configs import FAST, compose_train
    from iim.cli.train import train

    out = tmp_path_factory.mktemp("train")
    overrides = [
        "+experiment=smoke",
        *FAST,
        "trainer.max_epochs=2",
        "callbacks=default",
        "callbacks.progress_bar=null",
        "callbacks.prediction_images=null",
        "callbacks.model_summary=null",
    ]
    return str(train(compose_train(overrides, out))["last_checkpoint"])
