"""Helpers of the service tests: image bytes, a hand-made PNG header, a uvicorn server in a thread, a checkpoint."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """An RGB uint8 image as file bytes (``.png``, ``.jpg``, ...)."""
    ok, data = cv2.imencode(ext, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, failed: Callable[[], str | None], timeout_s: float) -> None:
    """Poll ``url/health`` until it answers 200; raise when ``failed()`` says why the server is gone, or at timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        reason = failed()
        if reason is not None:
            raise RuntimeError(f"the server at {url} did not come up: {reason}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not answer /health within {timeout_s:.0f} s")
        time.sleep(0.05)


@contextmanager
def running_server(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, lambda: None if thread.is_alive() else "the server thread ended", 60)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def demo_checkpoint(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write a checkpoint of the demo network (EfficientNet-Lite0 + PBM, random weights) that
    ``Predictor.from_checkpoint`` and ``iim-serve`` load; returns its path.

    It holds what a ``LocatorTask`` checkpoint holds for loading: the ``net.``-prefixed ``state_dict`` and the
    ``"iim"`` entry (network config, ImageNet mean/std, default inference settings).
    """
    import torch

    from iim.models import build_network
    from iim.ops.normalize import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(seed)
    net = build_network("efficientnet_lite0", "pbm", **{"predictor.backbone.pretrained": False})
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
        "iim": {
            "format": 1,
            "net_config": net.config(),
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "inference": {},
            "min_area": 3,
            "connectivity": 4,
        },
    }
    torch.save(checkpoint, out)
    return out


@contextmanager
def serve_process(
    ckpt: str | os.PathLike[str], *settings: str, log: str | os.PathLike[str] | None = None, startup_s: float = 180
) -> Iterator[tuple[str, Any]]:
    """Run ``iim-serve CKPT port=<free> device=cpu *settings`` as a subprocess; yields ``(base URL, Popen)``.

    Waits for ``/health``; at the end terminates the server (killed if it does not stop within 30 s). Its output
    goes to ``log`` (a file), else is discarded. No token: ``IIM_SERVE_TOKEN`` is removed from its environment.
    """
    import subprocess
    import sys

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "IIM_SERVE_TOKEN"}
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    command = [sys.executable, "-m", "iim.cli.serve", str(ckpt), f"port={port}", "device=cpu", *settings]
    with open(log if log is not None else os.devnull, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, lambda: None if proc.poll() is None else f"exited with status {proc.returncode}", startup_s)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
