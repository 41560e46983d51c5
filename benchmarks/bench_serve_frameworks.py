"""HTTP serving overhead on the CPU: FastAPI + uvicorn beside LitServe, against the bare ``Predictor``.

Input for the planned ``iim-serve``. Everything runs on this machine, on the same 1024x768 RGB PNG (numpy noise,
``cv2.imencode``, about 2.3 MB, sent as the raw request body):

- predictor: ``Predictor.predict(rgb)`` in a loop on the decoded image (after warm-up), in this process;
- fastapi: a minimal FastAPI app served by uvicorn in a subprocess: ``POST /predict`` with the PNG bytes ->
  ``cv2.imdecode`` -> ``predictor.predict`` in a thread (``asyncio.to_thread``) -> ``{"count": n}``;
- litserve: a minimal ``litserve.LitAPI`` (setup / decode_request / predict / encode_response doing the same) under
  ``LitServer(api, accelerator="cpu", workers_per_device=1)`` with ``max_batch_size=1``, in a subprocess.

The network is the one ``iim-train`` with no arguments trains (the demo: EfficientNet-Lite0 + PBM, mean = std = 0.5;
its ImageNet backbone weights load offline, the rest is random init, which is fine for timing). A client (httpx, in
this process) sends the PNG at concurrency 1 and at concurrency 8 (asyncio + ``httpx.AsyncClient``) and reports
p50 / p99 latency, throughput and the servers' memory (RSS summed over each server's process tree).

"added %" is the c=1 p50 over the Predictor's median latency (it includes PNG decoding, which the baseline skips;
the decode time is printed on its own). "ratio" is the c=8 throughput over the Predictor's 1 / median latency.
The Predictor baseline is timed again after the servers, to show how much the machine's load moved meanwhile.

    pip install litserve        # not an iim dependency; it brings fastapi and uvicorn
    python benchmarks/bench_serve_frameworks.py [--n1 40] [--n8 80] [--concurrency 8] [--threads 1] [--extras]

``--extras`` adds two rows: FastAPI with at most one inference in flight (an ``asyncio.Semaphore(1)``, i.e. the
same serialisation as LitServe's single worker) and LitServe with ``fast_queue=True`` (ZeroMQ instead of
multiprocessing-manager queues).
"""

# No `from __future__ import annotations` here: LitServe reads decode_request's annotation at runtime to build its
# FastAPI route, and a string annotation would not resolve in litserve's module.
import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2
import numpy as np

try:  # optional: only the litserve rows need it
    import litserve as ls
except ImportError:  # pragma: no cover - reported in main()
    ls = None

try:
    from fastapi import Body
except ImportError:  # pragma: no cover - reported in main()
    Body = None

HOST = "127.0.0.1"
SIZE = (768, 1024)  # (height, width)
DEMO_MEAN = DEMO_STD = (0.5, 0.5, 0.5)  # conf/data/synthetic.yaml (EfficientNet-Lite expects [-1, 1])
INSTALL_HINT = "pip install litserve   (it brings fastapi and uvicorn; not an iim dependency)"


# ------------------------------------------------------------------------------------------------------- shared
def build_predictor(device: str = "cpu"):
    """The demo network of ``iim-train`` (conf/train.yaml -> model: demo, data: synthetic) as a Predictor."""
    import torch

    from iim.inference import Predictor
    from iim.models import build_network

    threads = int(os.environ.get("IIM_BENCH_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_network("efficientnet_lite0", "pbm").eval()
    return Predictor(net, DEMO_MEAN, DEMO_STD, device=device)


def make_png() -> bytes:
    rgb = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return buf.tobytes()


def decode_png(body: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(body, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ------------------------------------------------------------------------------------------------------ servers
def serve_fastapi(port: int, inflight: int) -> None:
    """uvicorn + FastAPI; ``inflight`` > 0 bounds the inferences running at once (0: only the thread pool's)."""
    import uvicorn
    from fastapi import FastAPI, HTTPException, Request

    predictor = build_predictor("cpu")
    gate = asyncio.Semaphore(inflight) if inflight > 0 else None
    app = FastAPI()

    def run(body: bytes) -> int:
        return predictor.predict(decode_png(body)).count

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        body = await request.body()
        try:
            if gate is None:
                count = await asyncio.to_thread(run, body)
            else:
                async with gate:
                    count = await asyncio.to_thread(run, body)
        except ValueError as err:
            raise HTTPException(status_code=400, detail=str(err)) from err
        return {"count": count}

    uvicorn.run(app, host=HOST, port=port, log_level="warning")


if ls is not None and Body is not None:

    class IIMLitAPI(ls.LitAPI):
        """The same endpoint in LitServe. Module level, so that its spawned inference worker can unpickle it."""

        def setup(self, device):
            self.predictor = build_predictor(device)

        # Annotated bytes body: LitServe passes it through as-is (a plain `Request` would make it call .json())
        def decode_request(self, request: Annotated[bytes, Body(media_type="application/octet-stream")]):
            return decode_png(request)

        def predict(self, x):
            return self.predictor.predict(x)

        def encode_response(self, output):
            return {"count": output.count}


def serve_litserve(port: int, fast_queue: bool) -> None:
    api = IIMLitAPI(max_batch_size=1)  # LitServer(max_batch_size=...) is deprecated in litserve 0.2.x
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, fast_queue=fast_queue)
    server.run(host=HOST, port=port, log_level="warning", generate_client_file=False, num_api_servers=1)


# ------------------------------------------------------------------------------------------------------- client
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tree_rss(pid: int) -> tuple[float, str]:
    """RSS in MiB summed over a process and its descendants (shared pages counted in each), and the breakdown."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan"), "-"
    total, parts = 0.0, []
    for p in procs:
        try:
            mib = p.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
        total += mib
        parts.append(f"{p.name()[:18]}:{mib:.0f}")
    return total, " ".join(parts)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout:.0f} s")


def sequential(url: str, body: bytes, n: int, warmup: int) -> list[float]:
    import httpx

    headers = {"content-type": "application/octet-stream"}
    times = []
    with httpx.Client(timeout=600.0) as client:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            r = client.post(url, content=body, headers=headers)
            dt = time.perf_counter() - t0
            r.raise_for_status()
            if "count" not in r.json():
                raise RuntimeError(f"unexpected response {r.text[:200]}")
            if i >= warmup:
                times.append(dt)
    return times


async def concurrent(url: str, body: bytes, n: int, concurrency: int) -> tuple[list[float], float, int]:
    """``n`` requests from ``concurrency`` workers; latencies, wall time, failures."""
    import httpx

    headers = {"content-type": "application/octet-stream"}
    times: list[float] = []
    failures = 0
    left = n
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=600.0, limits=limits) as client:

        async def worker() -> None:
            nonlocal left, failures
            while left > 0:
                left -= 1
                t0 = time.perf_counter()
                r = await client.post(url, content=body, headers=headers)
                times.append(time.perf_counter() - t0)
                failures += r.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return times, wall, failures


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))]


def bench_server(kind: str, body: bytes, args: argparse.Namespace) -> dict:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)]
    # own session, so that the server's whole tree (LitServe: manager, API server, inference worker) can be stopped
    proc = subprocess.Popen(cmd, start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        t0 = time.monotonic()
        wait_ready(f"{base}/health", proc)
        startup = time.monotonic() - t0
        rss_idle, _ = tree_rss(proc.pid)
        lat1 = sequential(f"{base}/predict", body, args.n1, args.warmup)
        lat8, wall8, failures = asyncio.run(concurrent(f"{base}/predict", body, args.n8, args.concurrency))
        rss_load, parts = tree_rss(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {
        "p50_1": statistics.median(lat1),
        "p99_1": pct(lat1, 99),
        "rps_8": args.n8 / wall8,
        "p50_8": statistics.median(lat8),
        "p99_8": pct(lat8, 99),
        "failures": failures,
        "startup": startup,
        "rss_idle": rss_idle,
        "rss_load": rss_load,
        "parts": parts,
    }


def time_predictor(predictor, rgb: np.ndarray, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        predictor.predict(rgb)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        predictor.predict(rgb)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n1", type=int, default=40, help="timed requests at concurrency 1 (and baseline calls)")
    parser.add_argument("--n8", type=int, default=80, help="requests at the higher concurrency")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch / OpenMP threads in every process (0: torch's default). 1 by default: on a busy machine "
        "OpenMP teams of 2+ threads slow down a lot and unevenly between a main thread and pool threads",
    )
    parser.add_argument("--extras", action="store_true", help="also FastAPI with 1 in flight, LitServe fast_queue")
    parser.add_argument("--only", default=None, help="comma list of server rows to run (fastapi,litserve,...)")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve is not None:  # child: one server
        if args.serve == "fastapi":
            serve_fastapi(args.port, inflight=0)
        elif args.serve == "fastapi-1":
            serve_fastapi(args.port, inflight=1)
        elif args.serve in ("litserve", "litserve-zmq"):
            serve_litserve(args.port, fast_queue=args.serve == "litserve-zmq")
        else:
            raise SystemExit(f"unknown server {args.serve!r}")
        return

    if args.threads > 0:  # before torch is imported here; the servers inherit it
        os.environ["OMP_NUM_THREADS"] = os.environ["IIM_BENCH_THREADS"] = str(args.threads)
    if ls is None or Body is None:
        raise SystemExit(f"bench_serve_frameworks: litserve / fastapi missing; {INSTALL_HINT}")
    import fastapi
    import torch
    import uvicorn

    kinds = ["fastapi", "litserve"] + (["fastapi-1", "litserve-zmq"] if args.extras else [])
    if args.only:
        kinds = [k for k in args.only.split(",") if k]
    body = make_png()
    rgb = decode_png(body)
    decode = statistics.median(_timed(lambda: decode_png(body)) for _ in range(10))
    load = os.getloadavg()[0]
    print(
        f"# bench_serve_frameworks: demo EfficientNet-Lite0 + PBM, CPU, torch {torch.__version__} threads "
        f"{torch.get_num_threads()}, {os.cpu_count()} cores, load avg {load:.2f} at start; fastapi "
        f"{fastapi.__version__}, uvicorn {uvicorn.__version__}, litserve {ls.__version__}"
    )
    print(f"# body: {SIZE[1]}x{SIZE[0]} RGB noise PNG, {len(body) / 2**20:.2f} MiB; cv2.imdecode {1e3 * decode:.0f} ms")

    predictor = build_predictor("cpu")
    base = time_predictor(predictor, rgb, args.n1, args.warmup)
    b50 = statistics.median(base)
    b_rps = 1.0 / b50
    print(f"# predictor: median {1e3 * b50:.0f} ms, p99 {1e3 * pct(base, 99):.0f} ms over {args.n1} calls")

    results = {}
    for kind in kinds:
        print(f"# running {kind} ...", flush=True)
        results[kind] = bench_server(kind, body, args)
    after = statistics.median(time_predictor(predictor, rgb, max(10, args.n1 // 4), 1))
    load_end = os.getloadavg()[0]

    c = args.concurrency
    head = f"{'server':<14}{'c=1 p50 ms':>11}{'c=1 p99':>9}{'added %':>9}{f'c={c} req/s':>12}{'ratio':>7}"
    head += f"{f'c={c} p50':>10}{f'c={c} p99':>10}{'RSS MiB':>9}{'start s':>9}"
    print(head)
    print(f"{'predictor':<14}{1e3 * b50:>11.0f}{1e3 * pct(base, 99):>9.0f}{0.0:>8.1f}%{b_rps:>12.2f}{1.0:>7.2f}")
    for kind, r in results.items():
        fail = f"  ({r['failures']} failed)" if r["failures"] else ""
        print(
            f"{kind:<14}{1e3 * r['p50_1']:>11.0f}{1e3 * r['p99_1']:>9.0f}{100 * (r['p50_1'] / b50 - 1):>8.1f}%"
            f"{r['rps_8']:>12.2f}{r['rps_8'] / b_rps:>7.2f}{1e3 * r['p50_8']:>10.0f}{1e3 * r['p99_8']:>10.0f}"
            f"{r['rss_load']:>9.0f}{r['startup']:>9.1f}{fail}"
        )
    for kind, r in results.items():
        print(f"# {kind} RSS idle {r['rss_idle']:.0f} MiB, after load {r['rss_load']:.0f} MiB: {r['parts']}")
    print(
        f"# predictor again after the servers: median {1e3 * after:.0f} ms ({100 * (after / b50 - 1):+.1f} % drift); "
        f"load avg {load_end:.2f} at end. RSS sums each process's RSS (shared pages counted more than once)."
    )


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
