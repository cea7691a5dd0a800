"""The application pages in Chromium against a real `earmark serve`: sign up, sign in, register
and edit an application, use its key for real lookups, and see them counted once the cron's
roll-up has drained the counters; a hostile application name stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.importer.support import corpus_recordings
from tests.serve.process import Serve, clean_environment, wait_imported
from tests.web.browser import PageLog, screenshot
from tests.web.harness import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOSTILE = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def recordings(dev_corpus_vectors: Any) -> list[npt.NDArray[np.uint32]]:
    return corpus_recordings(dev_corpus_vectors, 2)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Serve]:
    started = Serve(data_dir, clean_environment())
    try:
        yield started
    finally:
        started.stop()


def _no_favicon(page: Page) -> None:
    """The site has no /favicon.ico yet: Chromium's automatic request for it would log a 404
    console error, which the page fixture counts as a failure."""
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))


def _sign_up(page: Page, url: str, login: str) -> str:
    """A new account, signed in; its user key."""
    page.goto(url + "/signup")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(url + "/api-key")
    return page.inner_text("#user-key").strip()


def _sign_in(page: Page, url: str, login: str) -> None:
    page.goto(url + "/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(url + "/")
    assert f"Signed in as {login}" in page.inner_text(".nav-account")


def _fill_application(page: Page, name: str, version: str, email: str, website: str) -> None:
    for field, value in [("name", name), ("version", version), ("email", email)]:
        page.fill(f"#{field}", value)
    page.fill("#website", website)


def _forget_http_errors(page_log: PageLog, status: int) -> None:
    """Chromium logs a console error for a page answered ``status`` (the form's 400)."""
    page_log.console_errors = [e for e in page_log.console_errors if f"status of {status}" not in e]


def _lookup(url: str, client: str, fingerprint: str) -> dict[str, Any]:
    answer = httpx.post(
        url + "/v2/lookup",
        data={"client": client, "duration": "120", "fingerprint": fingerprint},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    assert found["status"] == "ok", found
    return found


@pytest.mark.slow
def test_register_use_and_see_the_lookups(
    page: Page,
    page_log: PageLog,
    data_dir: Path,
    server: Serve,
    recordings: list[npt.NDArray[np.uint32]],
) -> None:
    url = server.url
    _no_favicon(page)
    user_key = _sign_up(page, url, "maker")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(url + "/")
    _sign_in(page, url, "maker")

    # Register: first with mistakes, shown in the form with the values kept.
    page.click("a:has-text('Applications')")
    page.wait_for_url(url + "/my-applications")
    assert "You have no applications yet." in page.inner_text("main")
    page.click("a:has-text('Register an application')")
    _fill_application(page, "", "1.0", "not-an-address", "ftp://files.example.org/")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("p.error[role=alert]")
    _forget_http_errors(page_log, 400)
    assert "The form has 3 problems" in page.inner_text("p.error")
    assert page.inner_text("#name-problem") == "The name is required."
    assert "does not look like one" in page.inner_text("#email-problem")
    assert "http:// or https://" in page.inner_text("#website-problem")
    assert page.input_value("#email") == "not-an-address"
    assert page.input_value("#version") == "1.0"
    screenshot(page, "applications-new-errors")

    _fill_application(page, "Shelf Tagger", "1.0", "dev@example.org", "https://shelf.example.org/")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r".*/application/\d+\?done=created$"))
    app_path = page.url.removeprefix(url).split("?")[0]
    app_key = page.inner_text("#application-key").strip()
    assert re.fullmatch(r"[A-Za-z0-9]{10}", app_key), app_key

    # Edit it.
    page.click("a:has-text('Edit')")
    page.fill("#version", "1.1")
    page.click("form.form button[type=submit]")
    page.wait_for_url(url + app_path + "?done=saved")
    assert "The changes are saved." in page.inner_text("main")
    assert page.inner_text("h1 .version") == "1.1"
    assert page.inner_text("#window-total") == "0"

    # Real requests with its key: submit one recording (as the user), look it up twice
    # (found), and look up another recording once (not found).
    known, unknown = (encode_fingerprint_base64(r) for r in recordings)
    submitted = httpx.post(
        url + "/v2/submit",
        data={
            "client": app_key,
            "user": user_key,
            "duration": "120",
            "fingerprint": known,
            "mbid": "9ff43b6a-4f16-427c-93c2-92307ca505e0",
        },
        timeout=30,
    ).json()
    assert submitted["status"] == "ok", submitted
    wait_imported(url, app_key, submitted["submissions"][0]["id"])
    assert _lookup(url, app_key, known)["results"], "the submitted recording is found"
    assert _lookup(url, app_key, known)["results"]
    assert _lookup(url, app_key, unknown)["results"] == []

    # The roll-up: the cron of `serve` drains the counters every minute, and once more when
    # the process stops; stop it (SIGTERM) and start it again on the same data directory.
    assert server.stop() == 0, server.describe()
    again = Serve(data_dir, clean_environment())
    try:
        url = again.url
        # The session survives the restart (the secret is in the data directory) and cookies
        # do not depend on the port.
        page.goto(url + app_path)
        assert page.inner_text("#window-total") == "3"
        assert "2 with results and 1 without" in page.inner_text("main")
        summary = page.text_content("svg.chart .chart-summary") or ""
        assert "total 3" in summary, summary
        month_row = page.locator("table.monthly tbody tr").first.inner_text()
        assert month_row.split("\t")[1:] == ["2", "1", "3"], month_row
        screenshot(page, "applications-show")
        page.goto(url + "/my-applications")
        row = page.locator("table.applications tbody tr").first
        assert "Shelf Tagger" in row.inner_text()
        assert app_key in row.inner_text()
        assert row.locator("td.number").inner_text() == "3"
        screenshot(page, "applications-my")
    finally:
        again.stop()


@pytest.mark.slow
def test_hostile_application_name_stays_text(page: Page, server: Serve) -> None:
    url = server.url
    _no_favicon(page)
    _sign_up(page, url, "hostile")
    page.goto(url + "/new-application")
    _fill_application(page, HOSTILE, HOSTILE, "dev@example.org", "")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r".*/application/\d+\?done=created$"))
    app_path = page.url.removeprefix(url).split("?")[0]
    for path in ["/my-applications", app_path, app_path + "/edit"]:
        page.goto(url + path)
        assert page.locator("main img").count() == 0, path
        assert HOSTILE in page.inner_text("main"), path
    page.goto(url + app_path)
    assert page.inner_text("h1").startswith(HOSTILE)
    assert page.text_content("svg.chart .chart-title") == f"Lookups per day: {HOSTILE}"
    screenshot(page, "applications-hostile-name")
    page.click("button:has-text('Deactivate')")
    assert page.inner_text("h1") == f"Deactivate {HOSTILE}?"
    page.click("button:has-text('Yes, deactivate it')")
    page.wait_for_url(re.compile(r".*\?done=deactivated$"))
    assert page.locator("main img").count() == 0
    # The page fixture fails the test if any dialog (alert) opened.
