"""iim-serve's HTTP API: the same heads as the Predictor, its options, /info and /health, and every refusal."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers.serve import encode, png_claiming
from iim.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def client(serve_predictor):
    with TestClient(create_app(serve_predictor, ServeSettings(token=None))) as c:
        yield c


def _png_of(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    raw = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)


def test_predict_gives_the_predictors_heads(client, serve_predictor, crowd):
    expected = serve_predictor.predict(crowd)
    assert expected.count > 5  # a trained model on a crowd: real heads
    for ext in (".png", ".bmp"):
        r = client.post("/predict", content=encode(crowd, ext), headers={"content-type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == expected.count and body["image_size"] == [120, 150]
        assert np.allclose(body["points"], expected.points) and np.allclose(body["boxes"], expected.boxes)
        assert body["areas"] == expected.areas.tolist() and body["threshold_offset"] == 0.0
        assert body["batch_size"] == 1 and set(body["timings_ms"]) >= {"decode", "queued", "batch", "total"}
    multipart = client.post("/predict", files={"image": ("crowd.png", encode(crowd), "image/png")})
    assert multipart.status_code == 200 and multipart.json()["points"] == body["points"]
    jpeg = client.post("/predict", content=encode(crowd, ".jpg"), headers={"content-type": "image/jpeg"})
    assert jpeg.json()["count"] == serve_predictor.predict(cv2.imdecode(
        np.frombuffer(encode(crowd, ".jpg"), np.uint8), cv2.IMREAD_COLOR_RGB)).count  # fmt: skip


def test_overlay_maps_and_the_threshold_offset(client, serve_predictor, crowd):
    r = client.post("/predict?overlay=true&maps=true", content=encode(crowd), headers={"content-type": "image/png"})
    body = r.json()
    assert _png_of(body["overlay"]).shape == (120, 150, 3)
    with_maps = serve_predictor.predict(crowd, return_maps=True)
    confidence = _png_of(body["maps"]["confidence"])
    assert confidence.shape == (120, 150) and confidence.dtype == np.uint8
    assert np.abs(confidence / 255.0 - with_maps.confidence).max() <= 0.5 / 255 + 1e-6
    assert _png_of(body["maps"]["threshold"]).shape == (120, 150)
    png = client.post("/predict?overlay=true", content=encode(crowd), headers={"accept": "image/png"})
    assert png.headers["content-type"] == "image/png" and int(png.headers["x-count"]) == body["count"]
    assert cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_COLOR).shape == (120, 150, 3)
    counts = {}
    for offset in (-0.2, 0.0, 0.15):
        got = client.post(f"/predict?threshold_offset={offset}", content=encode(crowd)).json()
        assert got["count"] == serve_predictor.predict(crowd, threshold_offset=offset).count
        counts[offset] = got["count"]
    assert counts[-0.2] > counts[0.0] or counts[0.15] < counts[0.0]  # the knob moves the count


def test_health_info_page_and_docs(client, serve_predictor):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/info").json()
    encoder = type(serve_predictor.net.threshold_encoder).__name__
    assert info["network"] == "IIMNet" and info["threshold_encoder"] == encoder
    assert info["mean"] == list(serve_predictor.mean) and info["std"] == list(serve_predictor.std)
    assert info["iim_version"] and info["limits"]["max_upload_bytes"] == 25 * 2**20 and not info["token_required"]
    assert info["config"]["_target_"].endswith("IIMNet")
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower() and "static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def _refusal(response: httpx.Response, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == code and all(w in body["detail"] for w in words), body
    return body["detail"]


def test_refusals_are_json_with_plain_words(serve_predictor, crowd):
    settings = ServeSettings(token=None, max_upload_bytes=200_000, max_pixels=100_000)
    with TestClient(create_app(serve_predictor, settings)) as c:
        png = encode(crowd)
        _refusal(c.post("/predict", content=b"hello", headers={"content-type": "text/plain"}), 415,
                 "wrong_content_type", "text/plain")  # fmt: skip
        _refusal(c.post("/predict", content=b"hello there", headers={"content-type": "image/png"}), 415,
                 "not_an_image", "not an image")  # fmt: skip
        _refusal(c.post("/predict", content=png[: len(png) // 2]), 422, "truncated_image", "truncated PNG")
        _refusal(c.post("/predict", content=b""), 422, "empty_upload")
        _refusal(c.post("/predict", files={"file": ("a.png", png, "image/png")}), 422, "no_image_field", "`image`")
        _refusal(c.post("/predict?threshold_offset=5", content=png), 422, "bad_parameter", "threshold_offset")
        _refusal(c.post("/predict?maps=maybe", content=png), 422, "bad_parameter", "maps")
        big = np.zeros((400, 400, 3), np.uint8)
        detail = _refusal(c.post("/predict", content=encode(big)), 413, "image_too_large", "400x400")
        assert "100,000" in detail and "not decoded" in detail
        _refusal(c.post("/predict", content=png_claiming(600, 500)), 413, "image_too_large", "600x500")
        _refusal(c.post("/predict", content=png_claiming(60000, 50000)), 413, "image_too_large", "3,000,000,000")
        _refusal(c.post("/predict", content=b"\0" * 300_000), 413, "upload_too_large", "293 KB", "limit is 195.3 KB")

        def chunks():  # no Content-Length: refused while streaming
            for _ in range(10):
                yield b"\0" * 50_000

        _refusal(c.post("/predict", content=chunks()), 413, "upload_too_large")
        assert c.post("/predict", content=png).status_code == 200  # still serving


def test_token_guards_everything_but_health_and_the_page(serve_predictor, crowd):
    with TestClient(create_app(serve_predictor, ServeSettings(token="s3cret"))) as c:
        for path in ("/info", "/openapi.json", "/docs"):
            _refusal(c.get(path), 401, "unauthorized", "needs a token")
        _refusal(c.post("/predict", content=encode(crowd)), 401, "unauthorized")
        _refusal(c.get("/info", headers={"authorization": "Bearer nope"}), 401, "unauthorized", "wrong token")
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200
        assert c.get("/static/app.js").status_code == 200
        ok = {"authorization": "Bearer s3cret"}
        assert c.get("/info", headers=ok).json()["token_required"] is True
        assert c.post("/predict", content=encode(crowd), headers=ok).status_code == 200


def test_token_from_the_environment_and_cors(serve_predictor, monkeypatch):
    monkeypatch.setenv("IIM_SERVE_TOKEN", "from-env")
    assert ServeSettings().token == "from-env"
    monkeypatch.delenv("IIM_SERVE_TOKEN")
    origin = {"origin": "http://elsewhere.example"}
    with TestClient(create_app(serve_predictor, ServeSettings())) as c:
        assert "access-control-allow-origin" not in c.get("/health", headers=origin).headers  # CORS off
    with TestClient(create_app(serve_predictor, ServeSettings(cors_origins=("http://elsewhere.example",)))) as c:
        assert c.get("/health", headers=origin).headers["access-control-allow-origin"] == "http://elsewhere.example"
    with pytest.raises(ValueError, match="max_pending"):
        ServeSettings(max_pending=0)
    with pytest.raises(ValueError, match="release_memory_idle_s"):
        ServeSettings(release_memory_idle_s=0)


def test_an_idle_service_hands_its_free_memory_back_once(serve_predictor, crowd):
    released = []
    app = create_app(serve_predictor, ServeSettings(token=None, release_memory_idle_s=0.2))
    # counted on this service only: the module's shared client has its own idle timer, which may fire meanwhile
    app.state.service.release_memory = lambda: released.append(1) or True

    async def run():
        async with _async_client(app) as c:
            await asyncio.gather(*(c.post("/predict", content=encode(crowd)) for _ in range(3)))
            await asyncio.sleep(0.05)
            early = (await c.get("/health")).json()["memory_releases"]
            for _ in range(2):  # requests within the idle time postpone the release
                await c.post("/predict", content=encode(crowd))
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.6)
            return early, (await c.get("/health")).json()["memory_releases"]

    early, late = asyncio.run(run())
    assert (early, late) == (0, 1) and released == [1]


@contextlib.asynccontextmanager
async def _async_client(app):
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def test_concurrent_requests_are_batched_and_answer_as_alone(serve_predictor, crowd):
    images = [crowd, crowd[::-1].copy(), crowd[:, ::-1].copy(), crowd[:60, :100].copy()]
    app = create_app(serve_predictor, ServeSettings(token=None, max_batch_size=4, batch_window_ms=300))

    async def run():
        async with _async_client(app) as c:
            return await asyncio.gather(*(c.post("/predict", content=encode(im)) for im in images))

    responses = asyncio.run(run())
    bodies = [r.json() for r in responses]
    assert max(b["batch_size"] for b in bodies) >= 2  # joined
    for image, body in zip(images, bodies):
        assert np.allclose(body["points"], serve_predictor.predict(image).points.reshape(-1, 2))


def test_a_network_call_holds_no_more_pixels_than_the_budget(serve_predictor, crowd):
    calls: list[int] = []
    budget = 2 * crowd.shape[0] * crowd.shape[1]  # two crowds a call
    app = create_app(serve_predictor, ServeSettings(token=None, max_batch_size=8, max_batch_pixels=budget,
                                                    batch_window_ms=500))  # fmt: skip

    def counted(images):
        calls.append(len(images))
        return serve_predictor.predict_maps(images)

    held_predictor = {"predict_maps": staticmethod(counted), "finish": serve_predictor.finish}
    app.state.service.predictor = type("Counted", (), held_predictor)

    async def run():
        async with _async_client(app) as c:
            return await asyncio.gather(*(c.post("/predict", content=encode(crowd)) for _ in range(5)))

    bodies = [r.json() for r in asyncio.run(run())]
    assert max(b["batch_size"] for b in bodies) >= 3 and max(calls) == 2 and sum(calls) == 5
    assert len({b["count"] for b in bodies}) == 1


def test_a_full_service_answers_503_with_retry_after(serve_predictor, crowd):
    import threading

    gate = threading.Event()
    original = serve_predictor.predict_maps
    app = create_app(serve_predictor, ServeSettings(token=None, max_pending=2, retry_after_s=3))

    def held(images):
        gate.wait(30)
        return original(images)

    held_predictor = {"predict_maps": staticmethod(held), "finish": serve_predictor.finish}
    app.state.service.predictor = type("Held", (), held_predictor)

    async def run():
        async with _async_client(app) as c:
            first = [asyncio.create_task(c.post("/predict", content=encode(crowd))) for _ in range(2)]
            while app.state.service.in_flight < 2:
                await asyncio.sleep(0.01)
            refused = await c.post("/predict", content=encode(crowd))
            gate.set()
            return refused, await asyncio.gather(*first)

    refused, served = asyncio.run(run())
    _refusal(refused, 503, "busy", "2 requests")
    assert refused.headers["retry-after"] == "3" and [r.status_code for r in served] == [200, 200]
