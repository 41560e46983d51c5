"""Command-line entry points: one module per console script of ``pyproject.toml`` (``iim-evaluate``: ``evaluate``)."""

from __future__ import annotations

__all__: list[str] = []
