"""ServeSettings: what ``iim-serve`` accepts and how it batches (every limit in one place, with its default)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TOKEN_ENV", "ServeSettings"]

TOKEN_ENV = "IIM_SERVE_TOKEN"


@dataclass(frozen=True)
class ServeSettings:
    """Limits, batching and access of the service.

    Args:
        max_upload_bytes: Largest request body (413 above it; checked from ``Content-Length`` and while reading).
        max_pixels: Largest image, ``height * width`` read from its header before decoding (413 above it).
        max_batch_size: Requests whose images go through the network together.
        max_batch_pixels: Pixels one network call may hold (images of one size are joined while they fit): small
            images batch, large ones run alone. On a CPU a batch of large images costs more per image than one
            at a time (measured: 4 x 1024x768 took 1.3x the time per image); raise it on a GPU.
        batch_window_ms: How long the first request of a batch waits for others to join it.
        max_pending: Requests admitted at once (reading, waiting or running); the next gets 503 with ``Retry-After``,
            so memory stays bounded by about ``max_pending x (max_upload_bytes + 3 x max_pixels)`` bytes.
        decode_workers: Threads that decode uploads and encode answers (a small pool of its own, so that memory does
            not grow with one allocator arena per thread of the web server's large pool).
        token: When set, every endpoint but ``/health`` and the page's static files needs
            ``Authorization: Bearer <token>`` (401 otherwise). Defaults to the ``IIM_SERVE_TOKEN`` variable.
        cors_origins: Origins allowed to call the API from other pages' scripts; empty (the default) = CORS off.
        retry_after_s: The ``Retry-After`` of a 503.
        release_memory_idle_s: After this many seconds with no request in flight, hand the allocator's free pages
            back to the system (glibc's ``malloc_trim``), so that an idle server's memory is what it really holds;
            None: never. Under steady load it never runs, and the next batch pays no page faults.
    """

    max_upload_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_batch_size: int = 8
    max_batch_pixels: int = 1_048_576
    batch_window_ms: float = 5.0
    max_pending: int = 64
    decode_workers: int = 2
    token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    cors_origins: tuple[str, ...] = ()
    retry_after_s: int = 1
    release_memory_idle_s: float | None = 2.0

    def __post_init__(self) -> None:
        positive = ("max_upload_bytes", "max_pixels", "max_batch_size", "max_batch_pixels", "max_pending")
        positive += ("decode_workers", "retry_after_s")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ServeSettings: `{name}` must be an integer >= 1, got {value!r}")
        if not (0 <= float(self.batch_window_ms) <= 1000):
            raise ValueError(f"ServeSettings: `batch_window_ms` must be in [0, 1000], got {self.batch_window_ms!r}")
        idle = self.release_memory_idle_s
        if idle is not None and (isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 < idle <= 3600):
            raise ValueError(
                f"ServeSettings: `release_memory_idle_s` must be in (0, 3600] seconds or None, got {idle!r}"
            )
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ValueError("ServeSettings: `token` must be a non-empty string or None")
        object.__setattr__(self, "cors_origins", tuple(str(o) for o in self.cors_origins))

    def public(self) -> dict[str, Any]:
        """The limits as ``/info`` shows them (the token itself never)."""
        out = asdict(self)
        out.pop("token")
        out["cors_origins"] = list(self.cors_origins)
        return out
