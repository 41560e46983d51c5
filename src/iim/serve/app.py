"""create_app: the ``iim-serve`` FastAPI application around a :class:`~iim.inference.Predictor`.

Endpoints: ``POST /predict`` (an image as the raw body or the multipart field ``image`` -> heads as JSON), ``GET
/health``, ``GET /info``, ``GET /`` (the page, from ``iim/serve/static``), and FastAPI's ``/openapi.json`` and
``/docs``. Every refusal is JSON ``{"error": code, "detail": plain words}`` with a 4xx status, or 503 with
``Retry-After`` when ``max_pending`` requests are already in flight.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

import cv2
import numpy as np
import PIL.Image
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import iim
from iim.inference import Prediction, Predictor
from iim.io import ImageReadError, decode_image, read_header
from iim.serve.batcher import BatchInfo, MicroBatcher
from iim.serve.errors import ServeError
from iim.serve.memory import release_free_memory
from iim.serve.middleware import BodyLimit, TokenAuth, error_response
from iim.serve.settings import ServeSettings
from iim.viz import draw_points

__all__ = ["create_app"]

_RAW_TYPES = ("image/", "application/octet-stream")
_OPEN_PATHS = ("/health", "/")  # and the page's files under /static/: no data behind any of them


@dataclass
class _Job:
    """One admitted image on its way through the batcher."""

    image: np.ndarray
    threshold_offset: float
    maps: bool


def _png(array: np.ndarray) -> bytes:
    """A gray :math:`(H, W)` or RGB :math:`(H, W, 3)` uint8 array as PNG bytes."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def _png_data_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(_png(array)).decode("ascii")


def _map_png(values: np.ndarray) -> str:
    """A map in [0, 1] as an 8-bit grayscale PNG data URL."""
    return _png_data_url(np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _describe(predictor: Predictor) -> dict[str, Any]:
    net = predictor.net
    encoder = getattr(net, "threshold_encoder", None)
    try:
        config: Any = net.config()  # type: ignore[operator]
    except Exception:  # a network built from parts without config form: its class is all /info can say
        config = None
    return {
        "network": type(net).__name__,
        "predictor": type(getattr(net, "predictor", net)).__name__,
        "threshold_encoder": type(encoder).__name__ if encoder is not None else None,
        "config": config,
        "parameters": sum(p.numel() for p in net.parameters()),
    }


class _Service:
    """The state behind the routes: predictor, settings, batcher and the count of requests in flight."""

    def __init__(self, predictor: Predictor, settings: ServeSettings) -> None:
        PIL.Image.init()  # every image plugin registered now, not lazily by concurrent decoding threads
        self.predictor = predictor
        self.settings = settings
        self.in_flight = 0
        self.releases = 0  # times idle memory was handed back (shown by /health)
        self._release: asyncio.TimerHandle | None = None
        self.release_memory = release_free_memory  # per service, so a test can count this service's releases
        self.pool = ThreadPoolExecutor(settings.decode_workers, thread_name_prefix="iim-serve-decode")
        self.batcher: MicroBatcher[_Job, Prediction] = MicroBatcher(
            self._process, settings.max_batch_size, settings.batch_window_ms / 1000, in_flight=lambda: self.in_flight
        )
        self.info = {
            "iim_version": iim.__version__,
            **_describe(predictor),
            "mean": list(predictor.mean),
            "std": list(predictor.std),
            "device": str(predictor.device),
            "precision": predictor.precision,
            "min_area": predictor.min_area,
            "connectivity": predictor.connectivity,
            "limits": settings.public(),
            "token_required": settings.token is not None,
        }

    def _process(self, jobs: Sequence[_Job]) -> list[Prediction]:
        """A batch: images of one size go through the network together, then each is binarized at its offset."""
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, job in enumerate(jobs):
            by_shape.setdefault(job.image.shape, []).append(i)
        calls = []
        for shape, indices in by_shape.items():  # chunks within the pixel budget (at least one image a call)
            per_call = max(1, self.settings.max_batch_pixels // (shape[0] * shape[1]))
            calls += [indices[k : k + per_call] for k in range(0, len(indices), per_call)]
        results: list[Prediction | None] = [None] * len(jobs)
        for indices in calls:
            conf, thr = self.predictor.predict_maps(np.stack([jobs[i].image for i in indices]))
            for k, i in enumerate(indices):
                job = jobs[i]
                results[i] = self.predictor.finish(
                    conf[k], thr[k], return_maps=job.maps, threshold_offset=job.threshold_offset
                )
        return [r for r in results if r is not None]

    # --------------------------------------------------------------------------------------------- reading
    async def read_upload(self, request: Request) -> bytes:
        """The image bytes of a request: its raw body, or the multipart field ``image``."""
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=8)
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise ServeError(422, "no_image_field", "multipart upload without a file in the field `image`")
            data = await upload.read()
            await form.close()
        elif not content_type or content_type.startswith(_RAW_TYPES):
            data = await request.body()
        else:
            raise ServeError(
                415,
                "wrong_content_type",
                f"wrong content type {content_type!r}: send the image bytes as image/* or application/octet-stream, "
                "or as the multipart field `image`",
            )
        if not data:
            raise ServeError(422, "empty_upload", "empty upload: the request carried no image bytes")
        return data

    def decode(self, data: bytes) -> np.ndarray:
        """Header first (size limit, format), then the pixels."""
        limit = self.settings.max_pixels
        try:
            header = read_header(data, "upload")
            if header.pixels > limit:
                raise ServeError(
                    413,
                    "image_too_large",
                    f"too large: {header.width}x{header.height} pixels, the limit is {limit:,} pixels "
                    f"(about {int(limit**0.5):,}x{int(limit**0.5):,}); the image was not decoded",
                )
            return decode_image(data, "upload")
        except ImageReadError as err:
            if err.reason == "too_large":
                raise ServeError(413, "image_too_large", f"{err}; the limit is {limit:,} pixels") from None
            if err.reason == "not_an_image":
                raise ServeError(415, "not_an_image", str(err)) from None
            raise ServeError(422, f"{err.reason}_image", str(err)) from None

    # ------------------------------------------------------------------------------------------- predicting
    async def predict(self, request: Request, offset: float, overlay: bool, maps: bool) -> Response:
        if self.in_flight >= self.settings.max_pending:
            raise ServeError(
                503,
                "busy",
                f"busy: {self.settings.max_pending} requests are in flight; retry shortly",
                {"Retry-After": str(self.settings.retry_after_s)},
            )
        self.in_flight += 1
        if self._release is not None:
            self._release.cancel()
            self._release = None
        try:
            return await self._predict(request, offset, overlay, maps)
        finally:
            self.in_flight -= 1
            idle_s = self.settings.release_memory_idle_s
            if self.in_flight == 0 and idle_s is not None:
                self._release = asyncio.get_running_loop().call_later(idle_s, self._release_if_idle)

    def _release_if_idle(self) -> None:
        """Still idle: hand the freed pages back (in the decode pool; a request arriving meanwhile just queues)."""
        self._release = None
        if self.in_flight == 0:
            self.releases += 1
            asyncio.get_running_loop().run_in_executor(self.pool, self.release_memory)

    async def _predict(self, request: Request, offset: float, overlay: bool, maps: bool) -> Response:
        t0 = time.perf_counter()
        data = await self.read_upload(request)
        t1 = time.perf_counter()
        loop = asyncio.get_running_loop()
        image = await loop.run_in_executor(self.pool, self.decode, data)
        t2 = time.perf_counter()
        result, batch = await self.batcher.submit(_Job(image, offset, maps))
        t3 = time.perf_counter()
        want_png = overlay and not maps and "image/png" in (request.headers.get("accept") or "")
        body, png = await loop.run_in_executor(self.pool, self._encode, image, result, overlay, maps, want_png)
        t4 = time.perf_counter()
        if png is not None:
            return Response(png, media_type="image/png", headers={"X-Count": str(result.count)})
        body["threshold_offset"] = offset
        body["batch_size"] = batch.size
        body["timings_ms"] = self._timings(t0, t1, t2, t3, t4, batch)
        return JSONResponse(body)

    @staticmethod
    def _timings(t0: float, t1: float, t2: float, t3: float, t4: float, batch: BatchInfo) -> dict[str, float]:
        ms = {
            "read": t1 - t0,
            "decode": t2 - t1,
            "queued": batch.queued_s,
            "batch": batch.run_s,
            "encode": t4 - t3,
            "total": t4 - t0,
        }
        return {k: round(v * 1000, 3) for k, v in ms.items()}

    @staticmethod
    def _encode(
        image: np.ndarray, result: Prediction, overlay: bool, maps: bool, want_png: bool
    ) -> tuple[dict[str, Any], bytes | None]:
        """The JSON body, or the overlay's PNG bytes when the client asked for the image itself."""
        body = result.to_dict()
        body.pop("source")
        if overlay:
            drawn = draw_points(image, result.points, boxes=result.boxes)
            if want_png:
                return body, _png(drawn)
            body["overlay"] = _png_data_url(drawn)
        if maps and result.confidence is not None and result.threshold is not None:
            body["maps"] = {"confidence": _map_png(result.confidence), "threshold": _map_png(result.threshold)}
        return body, None


def create_app(predictor: Predictor, settings: ServeSettings | None = None) -> FastAPI:
    """The service's FastAPI app.

    Args:
        predictor: Runs the network (its device and precision are the service's).
        settings: Limits, batching, token and CORS (:class:`ServeSettings` defaults when None).

    Returns:
        An ASGI app for uvicorn (``iim-serve`` runs it), or for ``fastapi.testclient.TestClient``.
    """
    settings = settings or ServeSettings()
    service = _Service(predictor, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.batcher.start()
        try:
            yield
        finally:
            await service.batcher.stop()
            service.pool.shutdown(wait=False)

    app = FastAPI(
        title="iim-serve",
        version=iim.__version__,
        summary="Heads in crowd images: points, boxes and the count (IIM, Gao et al. 2020).",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(ServeError)
    async def _refused(request: Request, err: ServeError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        # Starlette's own refusals (404, 405, a malformed multipart body) in the service's JSON form
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        return error_response(ServeError(err.status_code, code, str(err.detail), dict(err.headers or {})))

    @app.exception_handler(RequestValidationError)
    async def _bad_query(request: Request, err: RequestValidationError) -> JSONResponse:
        words = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in err.errors())
        return error_response(ServeError(422, "bad_parameter", f"bad parameter: {words}"))

    @app.post(
        "/predict",
        summary="Heads in one image",
        description=(
            "Send the image as the raw body (Content-Type image/* or application/octet-stream) or as the multipart "
            "field `image`. Returns count, points (x, y), boxes (x1, y1, x2, y2, exclusive ends), areas, image_size "
            "(height, width), batch_size and timings_ms. `overlay=true` adds the annotated image as a PNG data URL "
            "(or returns the PNG itself when the request sends `Accept: image/png`), `maps=true` the confidence and "
            "threshold maps as grayscale PNG data URLs."
        ),
        openapi_extra={
            "requestBody": {
                "content": {
                    "image/*": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {
                        "schema": {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}}}
                    },
                },
                "required": True,
            }
        },
    )
    async def predict(
        request: Request,
        threshold_offset: float = Query(
            0.0,
            ge=-1.0,
            le=1.0,
            description="Added to the learned threshold: > 0 keeps fewer, surer heads (precision), < 0 more (recall).",
        ),
        overlay: bool = Query(False, description="Add the image with the heads drawn, as a PNG."),
        maps: bool = Query(False, description="Add the confidence and threshold maps, as PNGs."),
    ) -> Response:
        return await service.predict(request, threshold_offset, overlay, maps)

    @app.get("/health", summary="Liveness (never needs the token)")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "in_flight": service.in_flight, "memory_releases": service.releases}

    @app.get("/info", summary="The model and the limits")
    async def info() -> dict[str, Any]:
        return service.info

    static = resources.files("iim.serve") / "static"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(packages=[("iim.serve", "static")]), name="static")

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.token is not None:
        app.add_middleware(TokenAuth, token=settings.token, open_paths=_OPEN_PATHS, open_prefixes=("/static/",))
    return app
