"""Command-line entry points: one module per console script of ``pyproject.toml`` (``iim-score``: ``score``); all Hydra
apps in one dialect (:mod:`iim.cli._common`)."""

from __future__ import annotations

__all__: list[str] = []
