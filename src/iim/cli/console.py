"""What the commands print: the progress bar, a line per validation and the closing table, not the notices of
libraries iim cannot change.

iim's own sources of noise are fixed where they arise (``LastCheckpoint`` passes ``weights_only``, the task gives
the model summary an example input so it counts FLOPs, ``iim-train`` lets the configured summary callback stand in
for Lightning's default one). Two notices come from inside Lightning and no argument avoids them; each is dropped by
an exact filter on its own text, so every other warning and log line still shows:

- the "💡 Tip" advertisements (litlogger, litmodels) that Lightning logs when those optional packages are missing;
- the ``isinstance(treespec, LeafSpec)`` deprecation that Lightning's own ``_pytree`` module triggers with torch
  2.10+ (``CombinedLoader`` flattens every dataloader through it).

Only the commands call :func:`quiet_library_notices`; importing iim as a library changes no filter.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_library_notices"]

_TIP_PREFIX = "💡 Tip:"
_LIGHTNING_RANK_ZERO_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


class _DropTips(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing ..." advertisements, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TIP_PREFIX)


_FILTER = _DropTips()


def quiet_library_notices() -> None:
    """Install the two exact filters described in the module docstring (idempotent)."""
    for name in _LIGHTNING_RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        module=r"pytorch_lightning\.utilities\._pytree",
    )
