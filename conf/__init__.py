"""Hydra configuration tree of iim (shipped inside the package as ``iim.conf``)."""
