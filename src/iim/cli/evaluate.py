"""``iim-evaluate``: the former name of ``iim-score``, kept for one release (it takes ``iim-score``'s arguments)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from iim.cli.score import main as _score_main

__all__ = ["NOTICE", "main"]

NOTICE = (
    "iim-evaluate is now iim-score; the old name goes away in the next release. It takes iim-score's arguments: "
    "PRED GT key=value ... (--overwrite is overwrite=true, --out F is out=F; see iim-score --help)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the renaming notice to stderr, then run ``iim-score`` (its dialect: ``PRED GT key=value ...``)."""
    print(NOTICE, file=sys.stderr)
    return _score_main(argv, prog="iim-evaluate")


if __name__ == "__main__":
    sys.exit(main())
