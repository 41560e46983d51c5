"""The public import contract: the torch core stays light (no Lightning, Hydra, OmegaConf or albumentations)."""

from __future__ import annotations

import subprocess
import sys

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


def test_each_layer_imports_only_the_layers_below():
    code = "import sys, importlib\nimportlib.import_module(sys.argv[1])\nprint(','.join(sorted(sys.modules)))\n"
    procs = {m: subprocess.Popen([sys.executable, "-c", code, m], stdout=subprocess.PIPE, text=True) for m in LAYERS}
    broken = {}
    for module, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, module
        loaded = out.strip().split(",")
        bad = sorted(m for m in loaded for f in LAYERS[module] if m == f or m.startswith(f + "."))
        if bad:
            broken[module] = bad
    assert broken == {}, f"these imports reach into higher layers: {broken}"


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


def test_iim_predictor_is_lazy():
    code = "import sys, iim\nassert 'iim.inference' not in sys.modules\nprint(iim.Predictor.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "iim.inference.predictor"


def test_reading_an_image_for_inference_stays_light(tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 5, 3), np.uint8))
    code = (
        "import sys\nfrom iim.inference import as_rgb_array\n"
        f"assert as_rgb_array({str(tmp_path / 'a.png')!r}).shape == (4, 5, 3)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
