"""Two optimizers stepped as one, and the learning-rate schedules of IIM.

IIM trains the confidence predictor and the threshold encoder at very different learning rates (1e-5 vs 1e-6 or
2e-7), and iim gives each part its own optimizer and scheduler. :class:`OptimizerGroup` holds them and steps them
together, so that Lightning (and its mixed-precision gradient scaler) sees one optimizer: one step per batch, one
scaler update per batch, one checkpoint entry. With Adam, two optimizers on disjoint parameters are exactly the
original's single Adam with two parameter groups (Adam's update is per parameter).

Schedules: :class:`PolyLR` (the original's per-iteration ``(1 - it / max_it) ** 0.9``, applied after each step),
:class:`EpochDecayLR` (the paper's ``0.99`` decay per epoch) and :class:`WarmupCosineLR` (an option for short runs).
Each carries its ``interval``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ExponentialLR, LambdaLR

__all__ = ["EpochDecayLR", "OptimizerGroup", "PolyLR", "SchedulerGroup"]


class OptimizerGroup(Optimizer):
    """Several optimizers over disjoint parameters, stepped, zeroed and checkpointed as one.

    ``param_groups`` lists every inner group (the same dicts, so schedulers and gradient scalers act on the inner
    optimizers); ``state`` is the union of the inner states.

    Args:
        optimizers: The optimizers by name (e.g. ``{"confidence": Adam(...), "threshold": Adam(...)}``).
    """

    def __init__(self, optimizers: Mapping[str, Optimizer]) -> None:
        if not optimizers:
            raise ValueError("OptimizerGroup: needs at least one optimizer")
        seen: set[int] = set()
        for name, opt in optimizers.items():
            ids = {id(p) for g in opt.param_groups for p in g["params"]}
            if ids & seen:
                raise ValueError(f"OptimizerGroup: optimizer {name!r} shares parameters with another one")
            seen |= ids
        self.optimizers: dict[str, Optimizer] = dict(optimizers)
        self.defaults: dict[str, Any] = {}
        self._optimizer_step_pre_hooks: dict[int, Callable] = {}
        self._optimizer_step_post_hooks: dict[int, Callable] = {}

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """Every parameter group of every inner optimizer (a group's ``name`` says whose it is)."""
        groups = []
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group.setdefault("name", name)
                groups.append(group)
        return groups

    @param_groups.setter
    def param_groups(self, value: Any) -> None:
        raise AttributeError("OptimizerGroup.param_groups is read-only; change the inner optimizers instead")

    @property
    def state(self) -> dict[Any, Any]:  # type: ignore[override]
        """The union of the inner optimizers' per-parameter states."""
        merged: dict[Any, Any] = {}
        for opt in self.optimizers.values():
            merged.update(opt.state)
        return merged

    @state.setter
    def state(self, value: Any) -> None:
        raise AttributeError("OptimizerGroup.state is read-only; load a state dict instead")

    def __getitem__(self, name: str) -> Optimizer:
        return self.optimizers[name]

    def __iter__(self) -> Iterator[Optimizer]:
        return iter(self.optimizers.values())

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Call ``closure`` once (if given), then step every inner optimizer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers.values():
            opt.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients of every inner optimizer."""
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """``{"optimizers": {name: inner state dict}}``."""
        return {"optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Restore every inner optimizer; the names must match."""
        states = state_dict.get("optimizers")
        if not isinstance(states, Mapping) or set(states) != set(self.optimizers):
            raise ValueError(
                f"OptimizerGroup: the checkpoint holds optimizers {sorted(states or {})}, this model has "
                f"{sorted(self.optimizers)} (a fixed threshold has no threshold optimizer)"
            )
        for name, opt in self.optimizers.items():
            opt.load_state_dict(states[name])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        raise NotImplementedError("OptimizerGroup: add the group to one of the inner optimizers")

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={type(opt).__name__}" for name, opt in self.optimizers.items())
        return f"OptimizerGroup({inner})"


class PolyLR(LambdaLR):
    """``lr = base_lr * (1 - step / total_steps) ** power``, stepped after every optimizer step (the original's).

    Args:
        optimizer: The optimizer.
        total_steps: Optimizer steps of the whole run (the task fills it in from the trainer).
        power: Exponent (0.9).
    """

    interval = "step"

    def __init__(self, optimizer: Optimizer, total_steps: int, power: float = 0.9) -> None:
        if total_steps < 1:
            raise ValueError(f"PolyLR: `total_steps` must be >= 1, got {total_steps}")
        self.total_steps = int(total_steps)
        self.power = float(power)
        super().__init__(
            optimizer, lambda step: max(0.0, 1.0 - min(step, self.total_steps) / self.total_steps) ** self.power
        )


class WarmupCosineLR(LambdaLR):
    """A linear warm-up over ``warmup_steps``, then a cosine decay to ``min_factor * base_lr`` at ``total_steps``.

    For short runs (an option; the original uses :class:`PolyLR`). Stepped after every optimizer step.

    Args:
        optimizer: The optimizer.
        total_steps: Optimizer steps of the whole run (the task fills it in from the trainer).
        warmup_steps: Steps of the linear warm-up from ``base_lr / warmup_steps`` (0: none), or a fraction of
            ``total_steps`` when below 1.
        min_factor: The learning rate at the end, as a fraction of the base rate.
    """

    interval = "step"

    def __init__(
        self, optimizer: Optimizer, total_steps: int, warmup_steps: float = 0.05, min_factor: float = 0.0
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"WarmupCosineLR: `total_steps` must be >= 1, got {total_steps}")
        if warmup_steps < 0 or not 0 <= min_factor <= 1:
            raise ValueError(
                f"WarmupCosineLR: `warmup_steps` must be >= 0 and `min_factor` in [0, 1], got {warmup_steps}, "
                f"{min_factor}"
            )
        self.total_steps = int(total_steps)
        warm = warmup_steps * total_steps if 0 < warmup_steps < 1 else warmup_steps
        self.warmup_steps = min(round(warm), self.total_steps - 1)
        self.min_factor = float(min_factor)
        super().__init__(optimizer, self._factor)

    def _factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


class EpochDecayLR(ExponentialLR):
    """``lr = base_lr * gamma ** epoch`` (the paper's 0.99 per epoch), stepped at the end of every epoch."""

    interval = "epoch"

    def __init__(self, optimizer: Optimizer, gamma: float = 0.99) -> None:
        super().__init__(optimizer, gamma=gamma)


class SchedulerGroup:
    """The schedulers of an :class:`OptimizerGroup`'s inner optimizers, checkpointed as one.

    Lightning requires every scheduler to belong to a returned optimizer; this object's ``optimizer`` is the group.
    """

    def __init__(self, optimizer: OptimizerGroup, schedulers: Mapping[str, Any]) -> None:
        self.optimizer = optimizer
        self.schedulers = dict(schedulers)

    def step(self, interval: str = "step") -> None:
        """Step the schedulers whose ``interval`` is ``interval`` (``"step"`` or ``"epoch"``)."""
        for scheduler in self.schedulers.values():
            if getattr(scheduler, "interval", "step") == interval:
                scheduler.step()

    def get_last_lr(self) -> list[float]:
        """The current learning rate of every inner group."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """``{name: inner scheduler state}`` (without callables)."""
        return {
            name: {k: v for k, v in s.state_dict().items() if k != "lr_lambdas"} for name, s in self.schedulers.items()
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore every inner scheduler."""
        for name, scheduler in self.schedulers.items():
            if name in state_dict:
                state = dict(state_dict[name])
                if isinstance(scheduler, LambdaLR):
                    state["lr_lambdas"] = [None] * len(scheduler.lr_lambdas)
                scheduler.load_state_dict(state)
