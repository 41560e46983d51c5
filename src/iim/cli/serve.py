"""``iim-serve``: a checkpoint behind an HTTP service (FastAPI + uvicorn), with a page to try it.

    iim-serve logs/train/runs/<run>/checkpoints/best.ckpt                # http://127.0.0.1:8000/
    iim-serve best.ckpt port=9000 device=cuda precision=16-mixed max_batch_size=16
    IIM_SERVE_TOKEN=s3cret iim-serve best.ckpt host=0.0.0.0              # other machines, with a token

The leading word is ``ckpt``; the settings are ``key=value`` overrides of ``conf/serve.yaml`` (``iim-serve --help``
lists them; ``max_batch_size=``, ``max_upload_bytes=`` ... work without their group). The app is
:func:`iim.serve.create_app`; this module only builds the Predictor and runs uvicorn.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from iim.cli._common import UsageError, require, run_app

__all__ = ["build_app", "main", "serve"]

PROG = "iim-serve"
_GROUPED = {
    "limits": ("max_upload_bytes", "max_pixels", "max_pending", "retry_after_s"),
    "batching": ("max_batch_size", "window_ms", "max_batch_pixels"),
}


def _ungrouped(argv: Sequence[str]) -> list[str]:
    """``max_batch_size=4`` -> ``batching.max_batch_size=4`` (the limits and batching keys without their group)."""
    out = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        group = next((g for g, keys in _GROUPED.items() if key.lstrip("+~") in keys), None)
        out.append(f"{group}.{key.lstrip('+~')}={value}" if eq and group else arg)
    return out


def build_app(cfg: DictConfig) -> Any:
    """The FastAPI app that ``cfg`` (``conf/serve.yaml``) describes.

    Raises:
        UsageError: A missing ``ckpt``, a bad limit, device or precision.
        FileNotFoundError / ValueError: The checkpoint cannot be loaded.
    """
    try:
        from iim.serve import ServeSettings, create_app
    except ImportError as err:
        raise UsageError(f"the service needs its extra: pip install 'iim[serve]' ({err})") from None
    from iim.inference import Predictor

    require(cfg, PROG, "ckpt")
    if cfg.threads is not None:
        import torch

        if int(cfg.threads) < 1:
            raise UsageError(f"threads must be >= 1 or null, got {cfg.threads}")
        torch.set_num_threads(int(cfg.threads))
    try:
        settings = ServeSettings(
            max_upload_bytes=int(cfg.limits.max_upload_bytes),
            max_pixels=int(cfg.limits.max_pixels),
            max_pending=int(cfg.limits.max_pending),
            retry_after_s=int(cfg.limits.retry_after_s),
            max_batch_size=int(cfg.batching.max_batch_size),
            max_batch_pixels=int(cfg.batching.max_batch_pixels),
            batch_window_ms=float(cfg.batching.window_ms),
            decode_workers=int(cfg.decode_workers),
            release_memory_idle_s=None if cfg.release_memory_idle_s is None else float(cfg.release_memory_idle_s),
            cors_origins=tuple(cfg.cors_origins),
            **({"token": str(cfg.token)} if cfg.token is not None else {}),
        )
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None
    predictor = Predictor.from_checkpoint(
        str(cfg.ckpt),
        device=str(cfg.device),
        precision=str(cfg.precision),
        inference=OmegaConf.to_container(cfg.inference),  # type: ignore[arg-type]
        min_area=cfg.min_area,
        connectivity=cfg.connectivity,
        batch_size=int(cfg.batching.max_batch_size),
    )
    return create_app(predictor, settings)


def serve(cfg: DictConfig) -> int:
    """Build the app and run it with uvicorn until interrupted (the work of ``iim-serve``)."""
    import uvicorn

    from iim.serve.memory import limit_malloc_arenas

    if cfg.malloc_arenas is not None:  # before any worker thread allocates
        limit_malloc_arenas(int(cfg.malloc_arenas))
    try:
        app = build_app(cfg)
    except (FileNotFoundError, ValueError) as err:
        if isinstance(err, UsageError):
            raise
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    host, port = str(cfg.host), int(cfg.port)
    info = app.state.service.info
    token = "token required" if info["token_required"] else "no token"
    print(f"{PROG}: {info['network']} ({info['threshold_encoder']}) on {info['device']}, {token}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: listening on {host}, reachable from other machines", file=sys.stderr)
    print(f"{PROG}: the page at http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/ , the API at /docs")
    uvicorn.run(app, host=host, port=port, access_log=bool(cfg.access_log), log_level="info")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iim-serve``: ``CKPT`` then ``key=value`` overrides of ``conf/serve.yaml``.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 after a clean shutdown, 2 on bad input or a usage error.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return run_app(PROG, "serve", serve, _ungrouped(args), keys=("ckpt",))


if __name__ == "__main__":
    raise SystemExit(main())
