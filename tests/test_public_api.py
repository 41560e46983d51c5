"""The public import contract: the torch core stays light (no Lightning, Hydra, OmegaConf or albumentations)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("lightning", "pytorch_lightning", "hydra", "omegaconf", "albumentations", "wandb")


LIGHT = ["iim", "iim.modules", "iim.models", "iim.losses", "iim.ops", "iim.targets", "iim.metrics", "iim.viz"]
LIGHT += ["iim.inference", "iim.io", "iim.validation"]

# Each layer imports only the layers below it: module -> the prefixes it must not load.
LAYERS = {
    "iim.io": ("torch", "iim.data", "iim.models", "iim.ops", "iim.targets", "iim.validation"),
    "iim.validation": ("torch", "iim.data", "iim.models", "iim.io"),
    "iim.modules": ("iim.models", "iim.ops", "iim.data", "iim.targets"),
    "iim.ops": ("iim.models", "iim.data", "iim.targets", "iim.metrics"),
    "iim.targets": ("torch", "iim.models", "iim.data", "iim.ops"),
    "iim.metrics": ("iim.models", "iim.data", "iim.targets"),
    "iim.viz": ("torch", "iim.data", "iim.models", "iim.tasks", "iim.cli"),
    "iim.inference": ("iim.data", "iim.tasks", "iim.cli"),
}


@pytest.mark.slow
def test_light_import_in_a_fresh_interpreter():
    """Each package imported alone in a fresh interpreter (all started at once: each mostly waits on torch)."""
    code = (
        "import sys, importlib\n"
        "importlib.import_module(sys.argv[1])\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    procs = {m: subprocess.Popen([sys.executable, "-c", code, m], stdout=subprocess.PIPE, text=True) for m in LIGHT}
    pulled = {}
    for module, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, module
        if out.strip():
            pulled[module] = out.strip()
    assert pulled == {}, f"these imports pulled in heavy packages: {pulled}"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What each layer loads, from one fresh interpreter (``helpers/import_probe.py``: iim modules dropped between)."""
    import json

    import cv2
    import numpy as np

    image = tmp_path_factory.mktemp("probe") / "a.png"
    cv2.imwrite(str(image), np.zeros((4, 5, 3), np.uint8))
    script = Path(__file__).parent / "helpers" / "import_probe.py"
    result = subprocess.run([sys.executable, str(script), str(image)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _hits(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for f in prefixes if m == f or m.startswith(f + "."))


def test_each_layer_imports_only_the_layers_below(probe):
    broken = {layer: _hits(probe[layer]["new"], banned) for layer, banned in LAYERS.items()}
    assert {k: v for k, v in broken.items() if v} == {}, "these imports reach into higher layers"
    assert "torch" in probe["iim.modules"]["new"]  # the probe sees a first import when there is one


def test_iim_predictor_is_lazy(probe):
    assert _hits(probe["iim"]["new"], ("iim.inference", "torch")) == []
    assert probe["iim.Predictor"]["result"] == "iim.inference.predictor"


def test_reading_an_image_for_inference_stays_light(probe):
    assert probe["read"]["result"] == [4, 5, 3]
    assert _hits(probe["all"]["new"], HEAVY) == []


def test_documented_import():
    from iim.modules import BinarizationLayer, binarize

    assert BinarizationLayer().grad_scale == 0.2
    assert callable(binarize)


def test_every_public_name_exists():
    import iim.data
    import iim.inference
    import iim.losses
    import iim.metrics
    import iim.models
    import iim.modules
    import iim.ops
    import iim.targets

    for pkg in (iim.modules, iim.models, iim.losses, iim.ops, iim.targets, iim.metrics, iim.data, iim.inference, iim):
        for name in pkg.__all__:
            assert hasattr(pkg, name), f"{pkg.__name__}.{name}"
