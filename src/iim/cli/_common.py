"""Helpers shared by the Hydra commands: positional inputs, running an app in-process, instantiating config
groups, error reporting, summary tables.

Every ``iim-*`` command is a Hydra app: its settings are ``key=value`` overrides of its own ``conf/<command>.yaml``.
Words before the first ``key=value`` or flag are the command's inputs; :func:`positional_overrides` turns them into
overrides (``iim-score pred.txt gt.txt`` is ``iim-score pred='pred.txt' gt='gt.txt'``) and :func:`run_app` runs the
app on the result, in this process, returning the exit status.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

import iim.conf  # noqa: F401 - registers the configs' resolvers (also in launcher workers, which load no config)

__all__ = [
    "UsageError",
    "fail",
    "hydra_quote",
    "instantiate_group",
    "positional_overrides",
    "print_table",
    "require",
    "root_cause",
    "run_app",
]


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


class UsageError(ValueError):
    """The command line cannot be turned into a run (reported as ``<command>: error: ...``, exit status 2)."""


def hydra_quote(text: str) -> str:
    """``text`` as a Hydra override string literal that Hydra and OmegaConf read back unchanged.

    Single-quoted; a quote, and backslashes before a quote or at the end, are escaped (Hydra keeps other backslashes
    as they are, so ``C:\\data`` needs none); ``${`` is escaped so that OmegaConf does not read an interpolation.
    """
    text = re.sub(r"(\\*)\$\{", lambda m: m[1] * 2 + "\\${", text)
    text = re.sub(r"(\\*)('|\Z)", lambda m: m[1] * 2 + ("\\'" if m[2] else ""), text)
    return f"'{text}'"


def _override_key(arg: str) -> str | None:
    """The config key an argument sets or deletes (``key=v``, ``+key=v``, ``++key=v``, ``~key``); ``None`` for flags
    and other words."""
    if arg.startswith("-"):
        return None
    if "=" in arg:
        return arg.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
    return arg[1:].split("@", 1)[0] if arg.startswith("~") else None


def positional_overrides(argv: Sequence[str], keys: Sequence[str], rest_key: str | None = None) -> list[str]:
    """Turn a command's leading positional words into Hydra overrides; the remaining arguments follow unchanged.

    The positional words are those before the first word that contains ``=`` or starts with ``-`` (so Hydra's own
    flags, ``--cfg job``, ``-m`` and the like, need no special knowledge: everything from there on is Hydra's). The
    first ones become ``keys[0]=...``, ``keys[1]=...``; further ones go into one list override ``rest_key=[...]``.

    Args:
        argv: The command line without the program name.
        keys: The config keys of the leading words, in order.
        rest_key: The list key that takes the words beyond ``keys`` (``None``: more words than keys is an error).

    Returns:
        Hydra's arguments: the remaining arguments, with one override per key given by position placed before
        the first override among them (first when there is none).

    Raises:
        UsageError: A key given both by position and as ``key=value``, or more words than the command takes.
    """
    argv = [str(arg) for arg in argv]  # paths too
    stop = next((k for k, arg in enumerate(argv) if arg.startswith("-") or "=" in arg), len(argv))
    words, rest = argv[:stop], argv[stop:]
    if len(words) > len(keys) and rest_key is None:
        extra = " ".join(words[len(keys) :])
        expected = " ".join(k.upper() for k in keys) or "no positional arguments"
        raise UsageError(f"unexpected argument(s) {extra!r} (expected {expected}, then key=value settings)")
    given = {key for key in map(_override_key, rest) if key}
    overrides = [f"{key}={hydra_quote(word)}" for key, word in zip(keys, words)]
    if rest_key is not None and len(words) > len(keys):
        overrides.append(f"{rest_key}=[" + ",".join(hydra_quote(w) for w in words[len(keys) :]) + "]")
    for override in overrides:
        key = override.split("=", 1)[0]
        if key in given:
            raise UsageError(f"{key} is given twice: as a word and as {key}=...; give it once")
    # Hydra's argparse takes the overrides as one run of words (a=1 --cfg job b=2 fails): join the run of the given
    # ones (-m a=1,2 / a=1 --cfg job), or come first when there is none (--cfg job, --info: its value is optional)
    at = next((k for k, arg in enumerate(rest) if _override_key(arg) is not None), 0)
    return rest[:at] + overrides + rest[at:]


def run_app(
    prog: str,
    config_name: str,
    task: Callable[[Any], int | None],
    argv: Sequence[str] | None = None,
    keys: Sequence[str] = (),
    rest_key: str | None = None,
) -> int:
    """Run ``task`` as the Hydra app of ``conf/<config_name>.yaml``, as if ``prog ARGV...`` had been typed.

    The leading words of ``argv`` become overrides (:func:`positional_overrides` with ``keys`` and ``rest_key``);
    ``sys.argv`` is set for Hydra and restored afterwards, so a command runs the same from its console script and
    in-process (tests). ``task`` gets the composed config and returns the exit status (``None`` is 0) or raises
    ``SystemExit``; a :class:`UsageError` or a missing mandatory key (``???``) it meets is reported as
    ``<prog>: error: ...`` with status 2. A command line that Hydra rejects before the task starts (an unknown key,
    a malformed override) also exits with status 2, after Hydra's own message. ``--help``, ``--cfg job``, ``--info``
    and ``-m`` work as in any Hydra app.

    Args:
        prog: The command's name, for messages and Hydra's usage line.
        config_name: The primary config, ``conf/<config_name>.yaml``.
        task: The command's work.
        argv: The command line without the program name; ``None`` reads ``sys.argv[1:]``.
        keys: The config keys of the leading positional words.
        rest_key: The list key of further positional words (``None``: they are an error).

    Returns:
        The exit status.
    """
    import functools

    import hydra
    from omegaconf.errors import MissingMandatoryValue

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        overrides = positional_overrides(args, keys, rest_key)
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    started = False

    @functools.wraps(task)
    def job(cfg: DictConfig) -> None:
        nonlocal started
        started = True
        try:
            code = task(cfg)
        except UsageError as err:
            fail(prog, err)
        except MissingMandatoryValue as err:
            fail(prog, UsageError(f"missing {err.full_key}=... (see {prog} --help)"))
        if code:
            raise SystemExit(code)

    app = hydra.main(version_base="1.3", config_path="pkg://iim.conf", config_name=config_name)(job)
    saved = sys.argv
    sys.argv = [prog, *overrides]
    try:
        app()
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if not isinstance(code, int):  # sys.exit("message")
            print(code, file=sys.stderr)
            return 1
        if code == 1 and not started:  # Hydra rejected the command line, and said why
            _hint_paths_with_equals(prog, overrides)
            return 2
        return code
    finally:
        sys.argv = saved
    return 0


def _hint_paths_with_equals(prog: str, args: Sequence[str]) -> None:
    """After Hydra rejects the arguments: name the existing paths among them that were read as settings because they
    contain ``=`` (Lightning's ``epoch=3-step=40.ckpt``, a sweep's ``0_lr=0.01/`` folder)."""
    import os

    for arg in args:
        if "=" in arg and not arg.startswith("-") and os.path.exists(arg):
            print(
                f"{prog}: note: {arg!r} contains '=', so it was read as a setting; give a path with '=' as a quoted "
                f"setting: KEY={hydra_quote(arg)}",
                file=sys.stderr,
            )


def require(cfg: DictConfig, prog: str, *keys: str) -> None:
    """Raise :class:`UsageError` naming the first of ``keys`` that is missing (``???``) or null in ``cfg``."""
    for key in keys:
        if OmegaConf.is_missing(cfg, key) or cfg.get(key) is None:
            raise UsageError(f"missing {key}=... (see {prog} --help)")
