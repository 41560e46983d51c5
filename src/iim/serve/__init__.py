"""iim-serve: heads in images over HTTP (FastAPI + uvicorn), with a page to try it (``pip install iim[serve]``).

    from iim.inference import Predictor
    from iim.serve import ServeSettings, create_app

    app = create_app(Predictor.from_checkpoint("best.ckpt"), ServeSettings(max_batch_size=4))
    # uvicorn.run(app, host="127.0.0.1", port=8000), or the command: iim-serve ckpt=best.ckpt

- :func:`create_app` -- the FastAPI app (``POST /predict``, ``GET /health``, ``GET /info``, ``GET /`` the page)
- :class:`ServeSettings` -- limits (upload bytes, image pixels, requests in flight), batching, token, CORS
- :class:`MicroBatcher` -- concurrent requests joined into batches for one worker thread
- :func:`run_load` -- a small load generator for ``POST /predict`` (its :class:`LoadReport`: throughput, latency)
"""

from __future__ import annotations

from iim.serve.app import create_app
from iim.serve.batcher import BatchInfo, MicroBatcher
from iim.serve.errors import ServeError
from iim.serve.load import LoadReport, run_load
from iim.serve.settings import TOKEN_ENV, ServeSettings

__all__ = [
    "TOKEN_ENV",
    "BatchInfo",
    "LoadReport",
    "MicroBatcher",
    "ServeError",
    "ServeSettings",
    "create_app",
    "run_load",
]
