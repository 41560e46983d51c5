"""iim-serve beside the bare Predictor on the CPU: throughput, latency and memory of the service under load.

For 1024x768 images and the demo network (EfficientNet-Lite0 + PBM, random init; the timing does not depend on the
weights), in one run:

- Predictor: ``Predictor.predict(path)`` in a loop over the image files (reading and decoding included, as the
  server decodes each upload), in this process, after warm-up; half of the ``--baseline`` calls before the server
  runs and half after, since a shared machine's speed drifts over the minutes the run takes;
- iim-serve: the same checkpoint behind ``iim-serve`` (a subprocess, default settings: ``max_batch_size=8``,
  ``window_ms=5``), the same files' bytes as raw ``POST /predict`` bodies from :func:`iim.serve.run_load`
  (``httpx.AsyncClient``, in this process) at concurrency 1 and 8.

The figures and their targets: the c=8 throughput over the Predictor's (at least 0.9), the c=1 median latency
over the Predictor's median (at most 10 % added), and the server's RSS growth from after warm-up to the end, over
``--latency-requests + --requests`` requests (at most 50 MB; measured under load, before the idle server hands its
free pages back, which it then does 2 s later). The images are ShanghaiTech Part B training images
(1024x768 JPEGs, used as they are) when ``../shared`` is present, else synthetic crowds written as JPEGs.

Client and server share this machine's cores, so the server's figures carry the client's cost too.

    python benchmarks/bench_serve.py [--requests 1000] [--latency-requests 50] [--baseline 30] [--threads 1]
        [--server KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared"))
sys.path.insert(0, str(REPO / "tests"))
WIDTH, HEIGHT = 1024, 768
TARGET_RATIO, TARGET_ADDED, TARGET_RSS_MB = 0.9, 0.10, 50.0


def _images(folder: Path, count: int) -> tuple[list[Path], str]:
    """``count`` 1024x768 JPEG files: Part B training images when present, else synthetic crowds written here."""
    part_b = SHARED / "data/shanghaitech/part_B/train_data/images"
    files = [part_b / f"IMG_{i}.jpg" for i in range(1, count + 1)]
    if all(f.is_file() for f in files):
        return files, "ShanghaiTech Part B JPEGs"
    import cv2

    from iim.data.synthetic import SyntheticSource

    files = []
    for i, record in enumerate(SyntheticSource(test=count, seed=0, height=HEIGHT, width=WIDTH).read("test")):
        path = folder / f"crowd_{i}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(record.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        files.append(path)
    return files, "synthetic crowds, JPEG q90"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests at concurrency 8 (the RSS run)")
    parser.add_argument("--latency-requests", type=int, default=50, help="requests at concurrency 1")
    parser.add_argument("--baseline", type=int, default=30, help="Predictor.predict calls")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--images", type=int, default=4, help="distinct image files, cycled")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch / OpenMP threads here and in the server (0: torch's default). 1 by default: on a busy machine "
        "OpenMP teams of 2+ threads slow down a lot and unevenly",
    )
    parser.add_argument(
        "--server", nargs="*", default=[], metavar="KEY=VALUE", help="iim-serve settings, e.g. malloc_arenas=null"
    )
    args = parser.parse_args()
    if args.threads > 0:  # before torch is imported; the server inherits it
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as folder:
        run(args, Path(folder))


def run(args: argparse.Namespace, tmp: Path) -> None:
    """The benchmark, with its checkpoint, images and server log in ``tmp``."""
    import torch

    from helpers.serve import demo_checkpoint, serve_process
    from iim.inference import Predictor
    from iim.serve import run_load
    from iim.serve.load import rss_mb

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    ckpt = demo_checkpoint(tmp / "demo.ckpt")
    files, source = _images(tmp, args.images)
    bodies = [f.read_bytes() for f in files]
    print(
        f"# bench_serve: demo EfficientNet-Lite0 + PBM on the CPU, {WIDTH}x{HEIGHT} {source} "
        f"({statistics.mean(len(b) for b in bodies) / 1024:.0f} KiB each, {len(files)} cycled); torch "
        f"{torch.__version__}, threads {torch.get_num_threads()}, python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}; "
        f"server settings: {' '.join(args.server) or 'defaults'}"
    )

    # ---------------------------------------------------------------------------------------- the baseline
    predictor = Predictor.from_checkpoint(ckpt, device="cpu")
    for f in files[:2]:
        predictor.predict(f)  # warm-up

    def baseline(calls: int) -> tuple[list[float], float]:
        """Seconds per ``Predictor.predict`` call, and the wall time of all of them."""
        times = []
        t0 = time.perf_counter()
        for i in range(calls):
            t = time.perf_counter()
            predictor.predict(files[i % len(files)])
            times.append(time.perf_counter() - t)
        return times, time.perf_counter() - t0

    # half of the calls before the server runs and half after (a shared machine's speed drifts over minutes)
    before, before_s = baseline((args.baseline + 1) // 2)
    print(f"# Predictor before: {len(before)} calls, median {1000 * statistics.median(before):.0f} ms", flush=True)

    # ------------------------------------------------------------------------------------------ the server
    with serve_process(ckpt, *args.server, log=tmp / "serve.log") as (url, proc):
        endpoint = f"{url}/predict"
        rss_up = rss_mb(proc.pid)
        for c, n in ((1, 4), (args.concurrency, 4 * args.concurrency)):  # warm-up: every batch size, thread pool
            run_load(endpoint, bodies, requests=n, concurrency=c, content_type="image/jpeg")
        rss_start = rss_mb(proc.pid)
        c1 = run_load(endpoint, bodies, requests=args.latency_requests, concurrency=1, content_type="image/jpeg")
        print(f"# iim-serve c=1: {c1.requests} requests, p50 {c1.p50_ms:.0f} ms", flush=True)
        cn = run_load(endpoint, bodies, requests=args.requests, concurrency=args.concurrency, content_type="image/jpeg")
        rss_end = rss_mb(proc.pid)
        time.sleep(3.5)  # past release_memory_idle_s (2 s by default): the idle server hands its free pages back
        rss_idle = rss_mb(proc.pid)
    after, after_s = baseline(args.baseline // 2)
    print(f"# Predictor after: {len(after)} calls, median {1000 * statistics.median(after):.0f} ms", flush=True)
    times = before + after
    base_rps = len(times) / (before_s + after_s)
    base_p50, base_p99 = 1000 * statistics.median(times), 1000 * _percentile(times, 99)
    growth = rss_end - rss_start
    added = c1.p50_ms / base_p50 - 1
    ratio = cn.throughput / base_rps

    print(f"{'run':<16}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'batch':>7}")
    print(f"{'Predictor':<16}{args.baseline:>9}{base_rps:>8.3f}{base_p50:>9.0f}{base_p99:>9.0f}{0:>8}{1:>7.2f}")
    for name, r in (("iim-serve c=1", c1), (f"iim-serve c={args.concurrency}", cn)):
        print(
            f"{name:<16}{r.requests:>9}{r.throughput:>8.3f}{r.p50_ms:>9.0f}{r.p99_ms:>9.0f}{r.errors:>8}"
            f"{r.mean_batch_size or 0:>7.2f}"
        )
    print()
    print(f"{'figure':<40}{'measured':>10}{'baseline/target':>17}{'ratio':>8}  ok")
    rows = (
        (f"throughput c={args.concurrency} / Predictor, req/s", cn.throughput, base_rps, ratio, ratio >= TARGET_RATIO),
        ("p50 c=1 / Predictor median, ms", c1.p50_ms, base_p50, 1 + added, added <= TARGET_ADDED),
        (f"RSS growth over {c1.requests + cn.requests} requests, MB", growth, TARGET_RSS_MB, growth / TARGET_RSS_MB,
         growth <= TARGET_RSS_MB),
    )  # fmt: skip
    for name, value, reference, r, ok in rows:
        print(f"{name:<40}{value:>10.2f}{reference:>17.2f}{r:>8.2f}  {'yes' if ok else 'NO'}")
    print(
        f"# targets: ratio >= {TARGET_RATIO}, added latency <= {100 * TARGET_ADDED:.0f} % (measured "
        f"{100 * added:+.1f} %), RSS growth <= {TARGET_RSS_MB:.0f} MB; server RSS {rss_up:.0f} MB up, "
        f"{rss_start:.0f} after warm-up, {rss_end:.0f} at end, "
        f"{rss_idle:.0f} idle 3.5 s later; load avg {os.getloadavg()[0]:.2f} at end"
    )
    for name, r in (("c=1", c1), (f"c={args.concurrency}", cn)):
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r.server_timings_ms.items())
        print(f"# server timings_ms (mean) at {name}: {parts}")


if __name__ == "__main__":
    main()
