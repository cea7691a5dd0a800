"""Browser tests: Playwright for Python driving Debian's Chromium.

``playwright install`` cannot download browsers here, so the browser is the system's
``/usr/bin/chromium`` (``make deps`` installs the Debian package). Without it, or without the
``playwright`` package, browser tests skip with the reason; with ``CI=true`` they fail instead.

Fixtures (registered by tests/web/conftest.py):

- ``browser``: one Chromium per test module.
- ``page``: a fresh page (its own context: no cookies shared between tests), 1280x900. Every
  ``dialog`` (alert, confirm, prompt: what an XSS payload opens) is dismissed and FAILS the test,
  and so does any uncaught script error or console error, checked when the test ends. A test
  that expects a console error (a 404 page is one: "Failed to load resource") takes it out of
  ``page_log.console_errors``.
- ``page_log``: what the page said (console errors, page errors, dialogs).

:func:`screenshot` saves a PNG under tests/artifacts/screenshots/ (gitignored) for a person to
look at. While the browser runs, Playwright's own event loop belongs to the test's thread, so
``asyncio.run`` fails there: :func:`run_async` runs a coroutine in a thread of its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.support import IN_CI, ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
T = TypeVar("T")


def require_browser() -> None:
    """Skip (fail in CI) unless Playwright and Debian's Chromium are installed."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is not installed (Debian: chromium; see `make deps`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed (pip install -e '.[test]')")
    if problems:
        message = "; ".join(problems)
        if IN_CI:
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)


@dataclass
class PageLog:
    """What a page said while the test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    #: "404 http://..." for every answer of status 400 or more (Chromium's console error for
    #: them does not name the URL); not a problem in itself.
    http_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = (
            [f"dialog opened: {d}" for d in self.dialogs]
            + [f"uncaught error: {e}" for e in self.page_errors]
            + [f"console error: {e}" for e in self.console_errors]
        )
        if found and self.http_errors:
            found.append(f"(HTTP errors: {', '.join(self.http_errors)})")
        return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    new_page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_log.console_errors.append(message.text)

    def on_page_error(error: Error) -> None:
        page_log.page_errors.append(str(error))

    def on_dialog(dialog: Dialog) -> None:
        page_log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_response(response: Response) -> None:
        if response.status >= 400:
            page_log.http_errors.append(f"{response.status} {response.url}")

    new_page.on("console", on_console)
    new_page.on("response", on_response)
    new_page.on("pageerror", on_page_error)
    new_page.on("dialog", on_dialog)
    try:
        yield new_page
    finally:
        context.close()
    problems = page_log.problems()
    if problems:
        pytest.fail("the page misbehaved: " + "; ".join(problems))


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save the page as tests/artifacts/screenshots/<name>.png; the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(work())`` in a thread of its own: what a browser test does instead of
    ``asyncio.run``, which Playwright's running loop refuses in the test's thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()
