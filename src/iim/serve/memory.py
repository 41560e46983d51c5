"""limit_malloc_arenas: cap glibc's malloc arenas so that a long-running server's memory stops creeping up.

glibc gives each thread that allocates at the same time as others an arena of its own (up to 8 per core) and keeps
freed memory in it; a server whose threads decode and run networks on large images then holds several copies of its
peak working set. ``mallopt(M_ARENA_MAX, n)`` caps their number for arenas created afterwards (call it before the
worker threads start). Elsewhere (musl, macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` (>= 1) for this process; True when glibc took it."""
    if arenas < 1:
        raise ValueError(f"limit_malloc_arenas: `arenas` must be >= 1, got {arenas}")
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, int(arenas)))
