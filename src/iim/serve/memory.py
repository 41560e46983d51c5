"""glibc's malloc in a long-running server: cap its arenas, and give freed memory back to the system when idle.

- ``limit_malloc_arenas``: glibc gives each thread that allocates at the same time as others an arena of its own
  (up to 8 per core) and keeps freed memory in it; a server whose threads decode and run networks on large images
  then holds several copies of its peak working set. ``mallopt(M_ARENA_MAX, n)`` caps their number for arenas
  created afterwards (call it before the worker threads start).
- ``release_free_memory``: between batches glibc keeps the freed tensors' pages for reuse, which is what makes the
  next batch fast; how many it keeps depends on how requests happened to interleave. ``malloc_trim(0)`` hands every
  free page back, so an idle server's RSS is what it really holds. (Giving them back after every batch instead,
  with a fixed mmap threshold, cost +50 % per 1024x768 request on the CPU in page faults.)

Elsewhere (musl, macOS, Windows) both do nothing and return False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

__all__ = ["limit_malloc_arenas", "release_free_memory"]

_M_ARENA_MAX = -8  # from glibc's malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` (>= 1) for this process; True when glibc took it."""
    if arenas < 1:
        raise ValueError(f"limit_malloc_arenas: `arenas` must be >= 1, got {arenas}")
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(_M_ARENA_MAX, int(arenas)))


def release_free_memory() -> bool:
    """Hand glibc's free pages back to the system (``malloc_trim(0)``); True when some were released."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))
