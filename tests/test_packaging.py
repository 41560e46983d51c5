"""The config tree ships inside the wheel as iim.conf and composes from an installed wheel outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (path,) = out.glob("iim-*.whl")
    return path


def test_wheel_carries_every_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"iim/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert shipped, "conf/ has no yaml files"
    assert shipped <= names, sorted(shipped - names)
    assert "iim/py.typed" in names
    page = {f"iim/serve/static/{p.name}" for p in (ROOT / "src/iim/serve/static").iterdir()}
    assert {"iim/serve/static/index.html", "iim/serve/static/app.js"} <= page <= names, sorted(page - names)


@pytest.mark.slow
def test_configs_compose_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import iim, iim.conf\n"
        "from iim.models import build_network\n"
        "net = build_network('test_resnet_fpn', 'ibm')\n"
        "print(iim.__file__)\n"
        "print(type(net.threshold_encoder).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    location, encoder = result.stdout.split()
    assert location.startswith(str(site)) and encoder == "ImageThresholdEncoder"


@pytest.mark.slow
def test_iim_train_cfg_job_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "iim.cli.train", "--cfg", "job", "+experiment=nwpu_hrnet_pbm"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "name: hrnet_w48" in result.stdout and "iim.data.readers.NWPUReader" in result.stdout
