"""Where the real data shared beside the checkout lives (``../shared``, or ``$IIM_SHARED_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared folder: ``$IIM_SHARED_DIR`` if set, else ``../shared`` beside the repository."""
    return Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under the shared folder; skips the calling test with a clear reason if it is absent."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set IIM_SHARED_DIR to the shared folder)")
    return path
