"""Modules that remember how they were built, so a checkpoint can rebuild them however they were made.

A class that derives from :class:`Configurable` records the arguments of its constructor. :meth:`Configurable.config`
turns them into plain data in Hydra's ``_target_`` form: nested configurable modules become their own configs, and
``functools.partial`` factories (a neck, a head, a threshold encoder waiting for its ``in_channels``) become
``{"_target_": ..., "_partial_": True, ...}``. The result is what ``hydra.utils.instantiate`` rebuilds the module
from, and what :class:`~iim.tasks.LocatorTask` stores in its checkpoints, whether the network came from
``iim-train``, :func:`iim.models.build_network` or plain Python (the way anomalib keeps the model's config in its
checkpoints). Only the standard library is used here.
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Configurable", "NotConfigurableError", "to_config"]


class NotConfigurableError(TypeError):
    """An argument of a module cannot be written as plain config data (e.g. a tensor or a foreign module)."""


def _target(obj: Any) -> str:
    """The import path Hydra instantiates ``obj`` (a class or function) from."""
    return f"{obj.__module__}.{obj.__qualname__}"


def to_config(value: Any, where: str = "config") -> Any:
    """``value`` as plain data (``None``, bool, int, float, str, lists, dicts, ``_target_`` nodes).

    Args:
        value: A configurable module, a ``functools.partial`` of a class or function, a sequence, a mapping, a path
            or a plain scalar.
        where: Where ``value`` sits, for the error message (e.g. ``"IIMNet.predictor"``).

    Raises:
        NotConfigurableError: ``value`` (or something inside it) has no config form; the message names where.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, Configurable):
        return value.config()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, functools.partial):
        if value.args:
            raise NotConfigurableError(f"{where}: a partial with positional arguments has no config form: {value!r}")
        node = {"_target_": _target(value.func), "_partial_": True}
        node.update({k: to_config(v, f"{where}.{k}") for k, v in value.keywords.items()})
        return node
    if inspect.isclass(value) and issubclass(value, Configurable):  # a factory given as the class itself
        return {"_target_": _target(value), "_partial_": True}
    if isinstance(value, Mapping):
        return {str(k): to_config(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [to_config(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise NotConfigurableError(
        f"{where}: a {type(value).__module__}.{type(value).__qualname__} has no config form; build it from config "
        "data (plain values, iim modules, functools.partial factories) or pass the task an explicit `net_config`"
    )


class Configurable:
    """Mixin: the instance records the arguments its constructor was called with.

    Subclasses need nothing but to derive from it (before ``nn.Module``, or after; the order does not matter). The
    outermost constructor call records: a subclass's own arguments, not those it passes to ``super().__init__``.
    """

    _init_arguments: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__dict__["__init__"]
        signature = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            if "_init_arguments" not in self.__dict__:  # the outermost call (a subclass's) records first
                bound = signature.bind(self, *args, **kw)
                arguments: dict[str, Any] = {}
                for name, value in list(bound.arguments.items())[1:]:
                    kind = signature.parameters[name].kind
                    if kind is inspect.Parameter.VAR_KEYWORD:
                        arguments.update(value)
                    elif kind is inspect.Parameter.VAR_POSITIONAL:
                        if value:
                            raise NotConfigurableError(f"{cls.__qualname__}: *args cannot be recorded")
                    else:
                        arguments[name] = value
                object.__setattr__(self, "_init_arguments", arguments)
            init(self, *args, **kw)

        cls.__init__ = __init__  # type: ignore[method-assign]

    def config(self) -> dict[str, Any]:
        """The ``_target_`` config that rebuilds this module (same class, same arguments), as plain data.

        Raises:
            NotConfigurableError: An argument has no config form (the message names it).
        """
        cls = type(self)
        node: dict[str, Any] = {"_target_": _target(cls)}
        arguments = self.__dict__.get("_init_arguments", {})
        node.update({k: to_config(v, f"{cls.__qualname__}.{k}") for k, v in arguments.items()})
        return node
