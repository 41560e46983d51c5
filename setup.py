"""Package layout: ``src/iim`` is the library; the top-level ``conf/`` Hydra tree ships inside it as ``iim.conf``.

All metadata lives in ``pyproject.toml``; this file only maps the config folder, which ``pyproject.toml`` alone cannot
combine with package discovery.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "iim.conf"],
    package_dir={"": "src", "iim.conf": "conf"},
)
