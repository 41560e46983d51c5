"""Visualisation for crowd localization: prediction overlays, the evaluation overlay, confidence / threshold maps.

numpy + OpenCV only (torch tensors are accepted and converted; no Lightning, Hydra or torch import):

- :func:`draw_points` -- predicted heads and a ``count: N`` label on an image or video frame
- :func:`draw_matches` -- true positives green, misses red, false positives magenta (the paper's Fig. 5)
- :func:`maps_panel` -- confidence and threshold maps on one fixed ``[0, 1]`` colour scale (the paper's Fig. 7)
"""

from __future__ import annotations

from iim.viz.overlay import FN_COLOR, FP_COLOR, PRED_COLOR, TP_COLOR, draw_matches, draw_points, maps_panel

__all__ = ["FN_COLOR", "FP_COLOR", "PRED_COLOR", "TP_COLOR", "draw_matches", "draw_points", "maps_panel"]
