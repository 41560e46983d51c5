"""iim-serve stays up through garbage: 200 random and mutated uploads each get 200 or a 4xx, then /health answers."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.serve import encode, png_claiming
from iim.serve import ServeSettings, create_app

_rng = np.random.default_rng(0)
SEEDS = [encode(_rng.integers(0, 255, (24, 32, 3), dtype=np.uint8), ext) for ext in (".png", ".jpg", ".bmp", ".tiff")]
SEEDS.append(png_claiming(9000, 9000))
CONTENT_TYPES = [None, "image/png", "image/jpeg", "application/octet-stream", "text/plain", "multipart/form-data"]


@st.composite
def uploads(draw: st.DrawFn) -> bytes:
    """Random bytes, or a real image with bytes flipped, cut, inserted, or its header spliced onto another."""
    kind = draw(st.sampled_from(["random", "flip", "cut", "insert", "splice"]))
    if kind == "random":
        return draw(st.binary(max_size=4096))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    if kind == "flip":
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=16)):
            data[at] = draw(st.integers(0, 255))
    elif kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=256))
    else:
        other = draw(st.sampled_from(SEEDS))
        data = data[: draw(st.integers(0, 64))] + other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_client(serve_predictor):
    with TestClient(create_app(serve_predictor, ServeSettings(token=None, max_pixels=4_000_000)),
                    raise_server_exceptions=False) as c:  # fmt: skip
        yield c


def test_random_and_mutated_uploads_get_200_or_4xx_and_the_service_stays_up(fuzz_client):
    statuses: list[int] = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(body=uploads(), content_type=st.sampled_from(CONTENT_TYPES), maps=st.booleans())
    def post(body: bytes, content_type: str | None, maps: bool) -> None:
        headers = {"content-type": content_type} if content_type else {}
        r = fuzz_client.post(f"/predict?maps={str(maps).lower()}", content=body, headers=headers)
        assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        answer = r.json()
        if r.status_code == 200:
            assert answer["count"] == len(answer["points"])
        else:
            assert answer["error"] and answer["detail"]
        statuses.append(r.status_code)

    post()
    assert len(statuses) == 200 and len(set(statuses)) >= 3  # refusals of several kinds, and some served
    assert fuzz_client.get("/health").json()["status"] == "ok"
    assert fuzz_client.post("/predict", content=SEEDS[0]).status_code == 200
