"""Helpers shared by the Hydra commands: instantiating config groups, error reporting, summary tables."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

__all__ = ["fail", "instantiate_group", "print_table", "root_cause"]


def instantiate_group(cfg: DictConfig | None) -> list[Any]:
    """Instantiate every ``_target_`` node of a config group (callbacks, loggers); ``None`` gives an empty list."""
    from hydra.utils import instantiate

    if not cfg:
        return []
    return [
        instantiate(node) for node in cfg.values() if isinstance(node, (DictConfig, Mapping)) and "_target_" in node
    ]


def root_cause(err: BaseException) -> BaseException:
    """The innermost cause of an exception (Hydra wraps errors raised while instantiating)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return err


def fail(command: str, err: BaseException) -> None:
    """Print ``<command>: error: <message>`` to stderr and exit with status 2."""
    cause = root_cause(err)
    print(f"{command}: error: {cause}", file=sys.stderr)
    raise SystemExit(2)


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column summary table (rich when available)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        print(title)
        for key, value in rows:
            print(f"  {key:<28} {value}")
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
