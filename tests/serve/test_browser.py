"""iim-serve's page in a real browser (Debian's chromium through Playwright) against a real server (uvicorn).

Pick an image: the card shows the server's count, the maps load, the threshold slider re-counts, a text file gets
the server's "not an image" in plain words, the downloads hold the heads; a server with a token asks for it and
retries. The page fetches nothing from outside the server. A screenshot of the page is saved (``tmp_path``, and
``$IIM_TEST_ARTIFACTS`` when set).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest
from PIL import Image

import iim
from helpers.serve import running_server
from iim.data.synthetic import SyntheticSource
from iim.inference import Predictor

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# playwright, uvicorn and iim.serve are imported where used, so that the default (not slow) run collects this file
# even where the serve extras are not installed
pytestmark = pytest.mark.slow

TOKEN = "s3cret-token"
WAIT_MS = 60_000  # a CPU prediction of a small image takes well under a second


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def crowd_png(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A synthetic 320 x 240 crowd scene, as a PNG file and as its RGB array."""
    array = SyntheticSource(test=1, seed=4, height=240, width=320).read("test")[0].image
    path = tmp_path_factory.mktemp("images") / "crowd.png"
    Image.fromarray(array).save(path)
    return path, array


@pytest.fixture(scope="module")
def server(serve_predictor: Predictor) -> Iterator[str]:
    from iim.serve import ServeSettings, create_app

    with running_server(create_app(serve_predictor, ServeSettings(token=None)), access_log=False) as base:
        yield base


@pytest.fixture(scope="module")
def token_server(serve_predictor: Predictor) -> Iterator[str]:
    from iim.serve import ServeSettings, create_app

    with running_server(create_app(serve_predictor, ServeSettings(token=TOKEN)), access_log=False) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail(
            "chromium is not installed, and this test needs a real browser: install Debian's package "
            "(`apt-get install chromium`, as .ci/run does); Playwright's own browser downloads are not used"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(f"this test drives the browser with Playwright's Python package, which is missing: {err}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class _Watch:
    """A page's uncaught script errors and every URL it requested."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.urls: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.on("request", lambda req: self.urls.append(req.url))

    def check(self, base: str) -> None:
        assert not self.errors, f"script errors on the page: {self.errors}"
        outside = [u for u in self.urls if not u.startswith((base + "/", "data:", "blob:"))]
        assert not outside, f"the page fetched from outside the server: {outside}"


def _api_count(base: str, data: bytes, offset: float, token: str | None = None) -> int:
    headers = {"Content-Type": "image/png", **({"Authorization": f"Bearer {token}"} if token else {})}
    r = httpx.post(f"{base}/predict", params={"threshold_offset": offset}, content=data, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["count"]


def _set_offset(page: Page, value: str) -> None:
    page.eval_on_selector(
        "#offset",
        """(el, v) => {
            el.value = v;
            el.dispatchEvent(new Event("input", {bubbles: true}));
            el.dispatchEvent(new Event("change", {bubbles: true}));
        }""",
        value,
    )


def _save_screenshot(page: Page, tmp_path: Path) -> Path:
    shot = tmp_path / "serve_page.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("IIM_TEST_ARTIFACTS"):
        folder = Path(os.environ["IIM_TEST_ARTIFACTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shot = Path(shutil.copy(shot, folder / shot.name))
    print(f"screenshot of the page: {shot}")
    return shot


# ------------------------------------------------------------------------------------------------------- tests
def test_page_counts_maps_offset_errors_downloads(browser, server, serve_predictor, crowd_png, tmp_path):
    from playwright.sync_api import expect

    png, array = crowd_png
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = _Watch(page)
    page.goto(f"{server}/")
    expect(page.locator("#info dl")).to_contain_text(iim.__version__)
    expect(page.locator("#info dl")).to_contain_text("cpu")
    expect(page.locator("#token-box")).to_be_hidden()

    page.set_input_files("#file-input", str(png))
    card = page.locator("#results .card").nth(0)
    expect(card).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    expected = serve_predictor.predict(array).count
    assert expected > 0  # a trained network: real heads, not an empty map
    assert int(card.locator(".count").inner_text()) == expected
    assert float(card.get_attribute("data-offset")) == 0
    expect(card.locator(".error")).to_be_hidden()
    row = page.locator("#counts-table tbody tr").nth(0)
    expect(row.locator("td").nth(0)).to_have_text("crowd.png")
    expect(row.locator("td").nth(1)).to_have_text("320 \u00d7 240")  # w x h
    expect(row.locator("td").nth(2)).to_have_text(str(expected))

    # the maps, side by side, once asked for
    maps = card.locator(".maps")
    expect(maps).to_be_hidden()
    page.check("#show-maps")
    page.check("#show-boxes")
    for kind in ("confidence", "threshold"):
        img = card.locator(f".maps img.{kind}")
        expect(img).to_be_visible()
        img.evaluate("el => el.decode()")
        assert img.evaluate("el => el.naturalWidth") > 0 and img.evaluate("el => el.naturalHeight") > 0, kind

    # the threshold offset: the card is re-counted at the new offset, as the API counts
    _set_offset(page, "-0.2")
    expect(page.locator("#offset-value")).to_contain_text("0.20")
    page.wait_for_function(
        "() => { const c = document.querySelector('#results .card');"
        " return c.dataset.state === 'done' && Number(c.dataset.offset) === -0.2; }",
        timeout=WAIT_MS,
    )
    assert int(card.locator(".count").inner_text()) == _api_count(server, png.read_bytes(), -0.2)

    # a file that is no image: the server's words in the card
    notes = tmp_path / "notes.txt"
    notes.write_text("these are words, not pixels\n")
    page.set_input_files("#file-input", str(notes))
    bad = page.locator("#results .card").nth(1)
    expect(bad).to_have_attribute("data-state", "error", timeout=WAIT_MS)
    expect(bad.locator(".error")).to_be_visible()
    expect(bad.locator(".error")).to_contain_text("not an image")
    expect(card).to_have_attribute("data-state", "done")  # the good card is untouched

    # downloads: the heads of every counted image
    count = int(card.locator(".count").inner_text())
    with page.expect_download() as download:
        page.click("#download-json")
    heads = json.loads(Path(download.value.path()).read_text())
    assert [h["name"] for h in heads] == ["crowd.png"] and heads[0]["count"] == count
    assert heads[0]["image_size"] == [240, 320] and len(heads[0]["points"]) == len(heads[0]["boxes"]) == count
    with page.expect_download() as download:
        page.click("#download-csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["name", "x", "y"] and len(rows) == count + 1
    assert all(r[0] == "crowd.png" for r in rows[1:])

    # back to the trained threshold for the screenshot: the heads as points and boxes
    _set_offset(page, "0")
    page.wait_for_function(
        "() => { const c = document.querySelector('#results .card');"
        " return c.dataset.state === 'done' && Number(c.dataset.offset) === 0; }",
        timeout=WAIT_MS,
    )
    assert int(card.locator(".count").inner_text()) == expected
    _save_screenshot(page, tmp_path)
    watch.check(server)
    page.close()


def test_page_asks_for_the_token_and_retries(browser, token_server, crowd_png):
    from playwright.sync_api import expect

    png, _ = crowd_png
    page = browser.new_page()
    watch = _Watch(page)
    page.goto(f"{token_server}/")
    expect(page.locator("#token-box")).to_be_visible()
    expect(page.locator("#token-box")).to_contain_text("This server needs a token")

    page.set_input_files("#file-input", str(png))
    card = page.locator("#results .card").nth(0)
    expect(card).to_have_attribute("data-state", "error", timeout=WAIT_MS)

    page.fill("#token-input", TOKEN)
    page.click("#token-submit")
    expect(page.locator("#token-box")).to_be_hidden()
    expect(card).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    assert int(card.locator(".count").inner_text()) == _api_count(token_server, png.read_bytes(), 0.0, TOKEN)
    expect(page.locator("#info dl")).to_contain_text(iim.__version__)

    # the token lives in sessionStorage: a reload does not ask again
    page.reload()
    expect(page.locator("#info dl")).to_contain_text(iim.__version__)
    expect(page.locator("#token-box")).to_be_hidden()
    watch.check(token_server)
    page.close()
