"""The quickstart notebook runs from top to bottom (a real kernel, the real demo training, briefly)."""

from __future__ import annotations

import os

import pytest

from helpers.shared import REPO


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the dev extra installs nbclient")
    nb = nbformat.read(REPO / "notebooks/quickstart.ipynb", as_version=4)
    os.environ["IIM_QUICKSTART_DIR"] = str(tmp_path)
    os.environ["IIM_QUICKSTART_EPOCHS"] = "2"
    try:
        nbclient.NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.environ.pop("IIM_QUICKSTART_DIR")
        os.environ.pop("IIM_QUICKSTART_EPOCHS")
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "checkpoint:" in outputs and "heads found" in outputs and "threshold range" in outputs
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the overlay and the maps panel (a third with the real image when ../shared is here)
    assert (tmp_path / "train" / "checkpoints" / "last.ckpt").is_file()
