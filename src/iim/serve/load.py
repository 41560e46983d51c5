"""run_load: a small HTTP load generator for ``iim-serve`` (``POST /predict`` under concurrent clients).

    from iim.serve import run_load

    report = run_load("http://127.0.0.1:8000/predict", [png_bytes], requests=500, concurrency=8)
    print(report.throughput, report.p50_ms, report.p99_ms, report.errors, report.mean_batch_size)

``concurrency`` workers share one ``httpx.AsyncClient`` (a connection each) and pull request numbers from a shared
counter until ``requests`` are sent; request ``i`` sends ``bodies[i % len(bodies)]``. Latency is measured per request,
from sending to the whole answer read. :func:`rss_mb` reads a process's resident memory (Linux).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadReport", "rss_mb", "run_load", "run_load_async"]


@dataclass(frozen=True)
class LoadReport:
    """What a load run measured.

    Attributes:
        requests: Requests sent.
        concurrency: Workers sending at once.
        seconds: Wall time of the whole run.
        throughput: Requests answered per second (``requests / seconds``, errors included).
        p50_ms: Median latency, milliseconds (linear interpolation between ranks, as numpy's default).
        p99_ms: 99th-percentile latency, milliseconds.
        mean_ms: Mean latency, milliseconds.
        errors: Requests answered with a status outside 2xx, or that failed in transport (connection, timeout).
        statuses: HTTP status -> count (transport failures have no status and appear only in ``errors``).
        mean_batch_size: Mean of the answers' JSON ``batch_size`` (None when no answer carried one).
        server_timings_ms: Mean of each key of the answers' JSON ``timings_ms`` (empty when none carried it).
    """

    requests: int
    concurrency: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    mean_batch_size: float | None = None
    server_timings_ms: dict[str, float] = field(default_factory=dict)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted values, interpolating linearly between ranks; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _check(bodies: Sequence[bytes], requests: int, concurrency: int) -> None:
    if not bodies:
        raise ValueError("run_load: `bodies` is empty; give at least one request body")
    if requests < 1 or concurrency < 1:
        raise ValueError(f"run_load: `requests` and `concurrency` must be >= 1, got {requests} and {concurrency}")


async def run_load_async(
    url: str,
    bodies: Sequence[bytes],
    *,
    requests: int,
    concurrency: int,
    content_type: str = "image/png",
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> LoadReport:
    """:func:`run_load` as a coroutine, for callers already inside an event loop."""
    import httpx

    _check(bodies, requests, concurrency)
    send_headers = {"Content-Type": content_type, **dict(headers or {})}
    counter = itertools.count()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    batch_sizes: list[float] = []
    timings: dict[str, list[float]] = {}
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while (i := next(counter)) < requests:  # one event loop: next() on the shared counter is atomic
            t0 = time.perf_counter()
            try:
                response = await client.post(url, content=bodies[i % len(bodies)], headers=send_headers)
            except httpx.HTTPError:
                latencies.append(time.perf_counter() - t0)
                failures += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[response.status_code] += 1
            if response.is_success and response.headers.get("content-type", "").startswith("application/json"):
                body: Any = response.json()
                if isinstance(body, dict):
                    if isinstance(body.get("batch_size"), (int, float)):
                        batch_sizes.append(float(body["batch_size"]))
                    for key, value in (body.get("timings_ms") or {}).items():
                        timings.setdefault(key, []).append(float(value))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    ordered = sorted(latencies)
    errors = failures + sum(n for status, n in statuses.items() if not 200 <= status < 300)
    return LoadReport(
        requests=requests,
        concurrency=concurrency,
        seconds=seconds,
        throughput=requests / seconds if seconds > 0 else math.inf,
        p50_ms=_percentile(ordered, 50) * 1000,
        p99_ms=_percentile(ordered, 99) * 1000,
        mean_ms=sum(ordered) / len(ordered) * 1000,
        errors=errors,
        statuses=dict(sorted(statuses.items())),
        mean_batch_size=sum(batch_sizes) / len(batch_sizes) if batch_sizes else None,
        server_timings_ms={key: sum(values) / len(values) for key, values in timings.items()},
    )


def run_load(
    url: str,
    bodies: Sequence[bytes],
    *,
    requests: int,
    concurrency: int,
    content_type: str = "image/png",
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> LoadReport:
    """POST ``requests`` bodies to ``url`` from ``concurrency`` concurrent workers and measure the answers.

    Args:
        url: The endpoint itself, e.g. ``http://127.0.0.1:8000/predict`` (query parameters included, if any).
        bodies: Request bodies (image file bytes); request ``i`` sends ``bodies[i % len(bodies)]``.
        requests: Requests to send in all.
        concurrency: Workers, each with one request in flight at a time.
        content_type: The requests' ``Content-Type``.
        headers: Further request headers (e.g. ``{"Authorization": "Bearer ..."}``).
        timeout: Seconds each request may take (connect, send, wait, read) before it counts as an error.

    Returns:
        The run's :class:`LoadReport`.

    Raises:
        ValueError: No bodies, or ``requests`` / ``concurrency`` below 1.
        RuntimeError: Called from a running event loop (await :func:`run_load_async` there).
    """
    _check(bodies, requests, concurrency)
    return asyncio.run(
        run_load_async(
            url,
            bodies,
            requests=requests,
            concurrency=concurrency,
            content_type=content_type,
            headers=headers,
            timeout=timeout,
        )
    )


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB, read from ``/proc/<pid>/status`` (``VmRSS``; Linux only).

    Raises:
        OSError: Not on Linux (no ``/proc``).
        ProcessLookupError: No such process.
        ValueError: The status file has no ``VmRSS`` line (e.g. a zombie process).
    """
    if not sys.platform.startswith("linux"):
        raise OSError(f"rss_mb reads /proc/<pid>/status, which Linux has; this is {sys.platform}")
    status = Path(f"/proc/{int(pid)}/status")
    try:
        text = status.read_text()
    except FileNotFoundError:
        raise ProcessLookupError(f"rss_mb: no process {pid} ({status} does not exist)") from None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit.lower() != "kb":  # pragma: no cover - the kernel always writes kB
                raise ValueError(f"rss_mb: unexpected unit {unit!r} in {status}: {line!r}")
            return int(value) / 1024
    raise ValueError(f"rss_mb: {status} has no VmRSS line (a zombie or kernel thread?)")
