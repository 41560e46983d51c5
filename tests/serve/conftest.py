"""Fixtures of the service tests: a Predictor of a trained checkpoint and a synthetic crowd."""

from __future__ import annotations

import numpy as np
import pytest

from iim.data.synthetic import SyntheticSource
from iim.inference import Predictor


@pytest.fixture(scope="session")
def serve_predictor(trained_checkpoint: str) -> Predictor:
    return Predictor.from_checkpoint(trained_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def crowd() -> np.ndarray:
    """A synthetic crowd scene, 120 x 150 RGB uint8."""
    return SyntheticSource(test=1, seed=4, height=120, width=150).read("test")[0].image
