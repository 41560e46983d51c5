"""iim-serve under load: a real server process (the demo network on the CPU) at concurrency 1, 4 and 16.

Every request answers 200, the server's memory stays flat after warm-up, and /health still answers. The table it
prints (run with ``-s``) shows throughput, latency, the batches the micro-batcher formed and the RSS both right
after each level (the allocator still holding its free pages) and once idle (after ``release_memory_idle_s``, when
the free pages went back to the system). The growth asserted is idle to idle: what the server really holds.
"""

from __future__ import annotations

import time

import httpx
import pytest

from helpers.serve import demo_checkpoint, encode, serve_process
from iim.data.synthetic import SyntheticSource
from iim.serve import LoadReport, run_load
from iim.serve.load import rss_mb

pytestmark = pytest.mark.slow

LEVELS = (1, 4, 16)
# 500 a level would take ~90 s of load on a 2-core machine (~12-15 req/s at c=1 and 4, ~20 at c=16 for 256x192
# images); 200 a level keeps the measured load under ~45 s there
REQUESTS = 200
# (concurrency, requests): every batch size and decoding thread seen before measuring; the server's memory grows
# once to the peak of its largest batches (oneDNN caches), then stays flat
WARMUP = ((1, 16), (4, 48), (16, 128))
RSS_GROWTH_MB = 50
# the server hands free pages back after this long idle; the test waits a little longer before reading RSS
IDLE_S = 0.5


def _idle_rss(url: str, pid: int) -> float:
    """RSS once the idle server has handed its free pages back (it counts each release in /health)."""
    before = httpx.get(f"{url}/health", timeout=10).json()["memory_releases"]
    time.sleep(3 * IDLE_S)
    after = httpx.get(f"{url}/health", timeout=10).json()["memory_releases"]
    assert after == before + 1, f"the idle server released its memory {after - before} times, expected once"
    return rss_mb(pid)


def _table(rows: list[tuple[LoadReport, float, float]]) -> str:
    lines = [
        f"{'conc':>4} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'batch':>6} "
        f"{'RSS +MB':>8} {'idle +MB':>8}  server ms (mean): decode / queued / batch / total"
    ]
    for r, busy, idle in rows:
        t = r.server_timings_ms
        server = " / ".join(f"{t.get(k, float('nan')):.1f}" for k in ("decode", "queued", "batch", "total"))
        lines.append(
            f"{r.concurrency:>4} {r.requests:>8} {r.throughput:>7.2f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
            f"{r.errors:>6} {r.mean_batch_size or 0:>6.2f} {busy:>8.1f} {idle:>8.1f}  {server}"
        )
    return "\n".join(lines)


def test_server_under_concurrent_load_answers_everything_and_keeps_its_memory(tmp_path):
    ckpt = demo_checkpoint(tmp_path / "demo.ckpt")
    scenes = SyntheticSource(test=4, seed=3, height=192, width=256).read("test")
    bodies = [encode(scene.image) for scene in scenes]
    log = tmp_path / "serve.log"
    with serve_process(ckpt, f"release_memory_idle_s={IDLE_S}", log=log) as (url, proc):
        for concurrency, requests in WARMUP:
            run_load(f"{url}/predict", bodies, requests=requests, concurrency=concurrency)
        rss_start = _idle_rss(url, proc.pid)
        rows = []
        for concurrency in LEVELS:
            report = run_load(f"{url}/predict", bodies, requests=REQUESTS, concurrency=concurrency)
            busy = rss_mb(proc.pid) - rss_start
            rows.append((report, busy, _idle_rss(url, proc.pid) - rss_start))
        growth = rows[-1][2]
        health = httpx.get(f"{url}/health", timeout=10)
        assert proc.poll() is None, log.read_text()
    print(f"\niim-serve load test: demo network on the CPU, 256x192 PNGs, idle RSS after warm-up {rss_start:.0f} MB")
    print(_table(rows))
    for report, _, _ in rows:
        assert report.errors == 0 and report.statuses == {200: REQUESTS}, (report, log.read_text())
        assert report.mean_batch_size is not None and 1 <= report.mean_batch_size <= 8
    assert rows[0][0].mean_batch_size == 1.0  # a lone client never waits for a batch to fill
    assert growth < RSS_GROWTH_MB, f"the server grew by {growth:.1f} MB over {len(LEVELS) * REQUESTS} requests"
    assert health.status_code == 200 and health.json()["status"] == "ok"
