"""Shared fixtures of the metrics tests: the real NWPU validation ground truth (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.shared import shared_path


@pytest.fixture(scope="session")
def nwpu_val_gt() -> Path:
    """``data/nwpu/val_gt_loc.txt`` of the shared folder (``$IIM_SHARED_DIR`` or ``../shared``)."""
    return shared_path("data", "nwpu", "val_gt_loc.txt")
