"""Every experiment resolves to the values it resolved to before the experiments were refactored (issue 15).

The golden files under ``tests/golden/experiments`` were written from the configs as they were, before the facts
(learning rates, schedules, statistics) were moved into one place each. Keys added since, on purpose, are listed in
``ADDED`` with the value every experiment must give them; nothing else may appear, disappear or change.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from helpers.golden_configs import GOLDEN_DIR, experiment_names, resolved_experiment

# dotted key -> the value it takes in every experiment (new keys only; an existing key never belongs here)
ADDED: dict[str, Any] = {"model.channels_last": None, "model.compile": False}


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: node}


def test_every_experiment_has_a_golden_file():
    assert sorted(p.stem for p in GOLDEN_DIR.glob("*.yaml")) == experiment_names()


@pytest.mark.parametrize("name", experiment_names())
def test_experiment_resolves_to_its_golden_values(name):
    golden = _flatten(yaml.safe_load((GOLDEN_DIR / f"{name}.yaml").read_text()))
    now = _flatten(resolved_experiment(name))
    added = {k: now.pop(k) for k in list(now) if k in ADDED and k not in golden}
    assert added == {k: v for k, v in ADDED.items() if k in added}
    changed = {k: (golden[k], now[k]) for k in golden.keys() & now.keys() if golden[k] != now[k]}
    assert changed == {}, f"{name}: values changed (golden, now): {changed}"
    assert sorted(golden.keys() - now.keys()) == [], f"{name}: keys gone"
    assert sorted(now.keys() - golden.keys()) == [], f"{name}: keys added (list them in ADDED if meant)"
