"""fingerprint.js in Chromium: the demo page draws real fingerprints and the slider works,
under a Content-Security-Policy that allows no inline script."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from earmark.chromaprint.compare import compare2
from tests.support import ROOT, uvicorn_in_thread
from tests.web.browser import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEMO = ROOT / "tests" / "web" / "data" / "fingerprint_demo.html"
DEMO_PATH = "/tests/web/data/fingerprint_demo.html"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'"
)
#: fingerprint.js's colours (r of rgb): 1 bits, 0 bits, no item, differing bits.
ONE, ZERO, NONE, DIFFER = 26, 232, 255, 176


class _Headers(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The repository (the demo, fingerprint.js) and a folder of pages made by tests, over
    HTTP with the site's CSP; (base URL, that folder)."""
    made = tmp_path_factory.mktemp("pages")
    app = Starlette(
        routes=[
            Route("/favicon.ico", lambda _request: Response(status_code=204)),
            Mount("/made", StaticFiles(directory=made)),
            Mount("/", StaticFiles(directory=ROOT)),
        ],
        middleware=[Middleware(_Headers)],
    )
    with uvicorn_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}", made


def demo_data() -> dict[str, Any]:
    text = DEMO.read_text()
    blocks = dict(re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', text))
    return {name: json.loads(body) for name, body in blocks.items()}


def agreement(a: list[int], b: list[int], offset: int) -> float:
    pairs = [(a[i], b[i + offset]) for i in range(len(a)) if 0 <= i + offset < len(b)]
    differing = sum(bin(x ^ y).count("1") for x, y in pairs)
    return 1 - differing / (32 * len(pairs))


def test_the_demo_data_is_what_it_says() -> None:
    data = demo_data()
    compared = data["compare-data"]
    a, b = compared["a"]["items"], compared["b"]["items"]
    assert data["single-data"]["items"] == a
    assert compared["score"] == pytest.approx(compare2(a, b, compared["maxOffset"]), abs=1e-6)
    assert agreement(a, b, -24) > 0.9 > 0.6 > agreement(a, b, 0)


def pixels(page: Page, selector: str) -> dict[str, Any]:
    """The canvas's size and the red channel of every pixel, row by row."""
    result: dict[str, Any] = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
            const red = [];
            for (let p = 0; p < data.data.length; p += 4) red.push(data.data[p]);
            return {width: canvas.width, height: canvas.height, red: red};
        }""",
        selector,
    )
    return result


def red_at(image: dict[str, Any], x: int, y: int) -> int:
    value: int = image["red"][y * image["width"] + x]
    return value


def agreement_text(page: Page) -> str:
    return page.locator("#compare .fingerprint-agreement").inner_text()


def test_the_demo_draws_and_the_slider_moves(page: Page, site: tuple[str, Path]) -> None:
    base, _ = site
    data = demo_data()
    a = data["compare-data"]["a"]["items"]
    b = data["compare-data"]["b"]["items"]
    response = page.goto(base + DEMO_PATH)
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    page.wait_for_selector("#compare .fingerprint-agreement")

    # One fingerprint: one column per item (2 px each here), one row per bit (3 px), MSB on top.
    single = pixels(page, "#single canvas")
    assert (single["width"], single["height"]) == (2 * len(a), 96)
    assert set(single["red"]) == {ONE, ZERO}  # not blank: both kinds of bit are drawn
    rng = random.Random(1)
    for _ in range(200):
        item, bit = rng.randrange(len(a)), rng.randrange(32)
        expected = ONE if (a[item] >> (31 - bit)) & 1 else ZERO
        assert red_at(single, 2 * item, 3 * bit + 1) == expected, (item, bit)

    # The comparison at offset 0: far from agreement; the matcher's score shown as given.
    score = page.locator("#compare .fingerprint-score").inner_text()
    assert (
        score
        == f"Matcher score (compare2, at its best offset): {data['compare-data']['score']:.3f}"
    )
    at_zero = agreement_text(page)
    assert at_zero == (
        f"Bit agreement at offset 0: {100 * agreement(a, b, 0):.1f} % "
        f"of {min(len(a), len(b))} items overlapping"
    )
    before = pixels(page, "#compare canvas")
    xor_top = 2 * (96 + 8)
    differ_before = sum(1 for v in before["red"][xor_top * before["width"] :] if v == DIFFER)
    screenshot(page, "fingerprint-demo-offset-0")

    # Move the slider as a person does (keyboard: each step fires "input") to B's true offset.
    slider = page.locator("#compare input[type=range]")
    slider.focus()
    for _ in range(24):
        page.keyboard.press("ArrowLeft")
    assert slider.input_value() == "-24"
    at_best = agreement_text(page)
    assert at_best != at_zero
    assert at_best.startswith(f"Bit agreement at offset -24: {100 * agreement(a, b, -24):.1f} %")
    assert "-24 items (-2.97 s)" in page.locator("#compare output").inner_text()
    after = pixels(page, "#compare canvas")
    differ_after = sum(1 for v in after["red"][xor_top * after["width"] :] if v == DIFFER)
    assert differ_after < differ_before / 3  # the XOR strip went mostly light
    path = screenshot(page, "fingerprint-demo-offset-24")
    assert path.stat().st_size > 0


HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_hostile_labels_and_broken_data_render_as_text(page: Page, site: tuple[str, Path]) -> None:
    base, made = site
    good = json.dumps({"items": [1, 2, 3], "label": HOSTILE}).replace("<", "\\u003c")
    compare = json.dumps(
        {"a": {"items": [1], "label": HOSTILE}, "b": {"items": [2], "label": HOSTILE}}
    ).replace("<", "\\u003c")
    (made / "hostile.html").write_text(
        "<!doctype html><meta charset=utf-8><title>hostile</title>"
        '<div id="one" data-fingerprint-source="one-data"></div>'
        '<div id="two" data-fingerprint-source="two-data"></div>'
        '<div id="broken" data-fingerprint-source="broken-data"></div>'
        '<div id="missing" data-fingerprint-source="nowhere"></div>'
        f'<div id="attr" data-fingerprint-json="[1, 2]"></div>'
        f'<script type="application/json" id="one-data">{good}</script>'
        f'<script type="application/json" id="two-data">{compare}</script>'
        '<script type="application/json" id="broken-data">{"items": [1, "x"]}</script>'
        '<script src="/src/earmark/web/static/fingerprint.js"></script>'
    )
    page.goto(base + "/made/hostile.html")
    page.wait_for_selector("#two .fingerprint-agreement")
    assert HOSTILE in page.locator("#two .fingerprint-legend").inner_text()
    assert page.locator("img").count() == 0
    assert page.locator("#one canvas").get_attribute("aria-label", timeout=1000) == (
        f"{HOSTILE}: 3 items, one column per item, one row per bit"
    )
    assert page.locator("#two .fingerprint-score").inner_text() == (
        "Matcher score (compare2): not given"
    )
    assert page.locator("#broken .fingerprint-error").inner_text() == (
        "This fingerprint cannot be drawn: item 1 is not a 32-bit integer"
    )
    assert "no data block #nowhere" in page.locator("#missing").inner_text()
    assert "not an object" in page.locator("#attr").inner_text()
    screenshot(page, "fingerprint-hostile")
    # The page fixture fails the test if a dialog opened or a script error happened.
