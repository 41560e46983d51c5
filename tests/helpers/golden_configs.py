"""The resolved config of every ``+experiment=<name>``, as the golden files of ``tests/golden/experiments`` hold them.

``python -m tests.helpers.golden_configs`` (from the repository root) rewrites the golden files; do that only when an
experiment is meant to change, and say so in the commit.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf, open_dict

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "experiments"
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def experiment_names() -> list[str]:
    """Every experiment under ``conf/experiment`` (file stems)."""
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def resolved_experiment(name: str) -> dict[str, Any]:
    """``iim-train +experiment=<name>`` composed and resolved, without the ``hydra`` node; the run folder and the
    environment-dependent paths are fixed placeholders so the result is the same on every machine. Composed once
    per process (tests share it); each call returns a fresh copy."""
    return copy.deepcopy(_resolved(name))


@functools.cache
def _resolved(name: str) -> dict[str, Any]:
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"+experiment={name}"])
    with open_dict(cfg):
        cfg.paths.output_dir = "<output_dir>"
        cfg.paths.data_dir = "<data_dir>"
        cfg.paths.log_dir = "<log_dir>"
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in experiment_names():
        (GOLDEN_DIR / f"{name}.yaml").write_text(OmegaConf.to_yaml(resolved_experiment(name)))
        print(f"wrote {GOLDEN_DIR / name}.yaml")


if __name__ == "__main__":
    main()
