"""Run as a script: import each iim layer in turn in one interpreter and print, as JSON, what each step loaded.

Before each step every ``iim`` module is dropped from ``sys.modules``, so a step's ``new`` list holds exactly the iim
modules it imports (the third-party ones it is the first to load, too). The torch-free layers go first, so that
``torch`` in their ``new`` list means they loaded it. Usage: ``python import_probe.py IMAGE`` (an image to read).
"""

from __future__ import annotations

import importlib
import json
import sys

TORCH_FREE = ["iim.io", "iim.validation", "iim.targets", "iim.viz"]
WITH_TORCH = ["iim.modules", "iim.ops", "iim.metrics", "iim.inference"]


def _step(action) -> dict:
    for name in [m for m in sys.modules if m == "iim" or m.startswith("iim.")]:
        del sys.modules[name]
    before = set(sys.modules)
    result = action()
    return {"new": sorted(set(sys.modules) - before), "result": result}


def main(image: str) -> None:
    report = {}
    for layer in TORCH_FREE:
        report[layer] = _step(lambda layer=layer: importlib.import_module(layer) and None)
    report["iim"] = _step(lambda: importlib.import_module("iim") and None)
    for layer in WITH_TORCH:
        report[layer] = _step(lambda layer=layer: importlib.import_module(layer) and None)
    report["iim.Predictor"] = _step(lambda: importlib.import_module("iim").Predictor.__module__)
    report["read"] = _step(lambda: list(importlib.import_module("iim.inference").as_rgb_array(image).shape))
    report["all"] = {"new": sorted(sys.modules), "result": None}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
