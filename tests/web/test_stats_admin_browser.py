"""/stats and /admin in Chromium: the charts are drawn (inline SVG, no script), an admin signs
in, grants a role and deactivates an application by clicking; screenshots of each page."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

from earmark.db import accounts, applications, stats, submissions
from earmark.db.engine import Databases
from tests.services import SqliteDatabases
from tests.support import uvicorn_in_thread
from tests.web.browser import PageLog, screenshot
from tests.web.harness import PASSWORD, WebHarness
from tests.web.statsdata import write_known_data

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _month_of_figures(dbs: Databases, today: dt.date, application_id: int) -> None:
    """31 daily roll-ups of a growing database and a month of lookups with a weekly rhythm,
    on top of the known data set: what a running instance's page looks like."""
    tracks = 48_000
    counts = []
    for back in range(31, 0, -1):
        day = today - dt.timedelta(days=back)
        tracks += 900 + int(400 * math.sin(back / 3))
        with dbs.write() as conns:
            stats.store_figures(
                conns.app,
                day,
                {"track.all": tracks, "mbid.all": int(tracks * 0.7), "fingerprint.all": tracks},
            )
        weekend = day.weekday() >= 5
        counts.append(
            stats.LookupCount(
                application_id,
                day,
                12,
                hits=(21_000 if weekend else 14_000) + 97 * back,
                misses=3_100 + 13 * back,
            )
        )
    with dbs.write() as conns:
        stats.add_lookup_counts(conns.app, counts)
        # Today's roll-up: histograms that add up to the totals.
        total, recordings = tracks + 1_150, int(tracks * 0.7)
        figures = stats.figures_on(conns.app, today) | {
            "track.all": total,
            "fingerprint.all": int(total * 1.3),
            "mbid.all": recordings,
            "account.active": 312,
            "submission.all": int(total * 2.4),
        }
        shares = [0.64, 0.13, 0.04, 0.013, 0.0045, 0.002, 0.0009, 0.0004, 0.0002, 0.0001]
        per_track = [int(total * share) for share in shares]
        figures |= {f"track.{i + 1}mbids": n for i, n in enumerate(per_track)}
        figures["track.0mbids"] = total - sum(per_track)
        per_mbid = [int(recordings * share) for share in (0.1, 0.16, 0.05, 0.012, 0.004)]
        figures |= {f"mbid.{i + 2}tracks": n for i, n in enumerate(per_mbid)}
        figures["mbid.1tracks"] = recordings - sum(per_mbid)
        figures |= {"mbid.0tracks": 0, "mbid.10tracks": 12}
        stats.store_figures(conns.app, today, figures)


@pytest.fixture
def quiet_page(page: Page) -> Page:
    """The page, with Chromium's favicon request answered (the site has no favicon yet)."""
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    return page


@pytest.fixture
def site(sqlite_databases: SqliteDatabases) -> Iterator[tuple[str, WebHarness]]:
    dbs = Databases.single(sqlite_databases.create())
    web = WebHarness(dbs)
    today = dt.datetime.now(dt.UTC).date()
    data = write_known_data(dbs, today)
    _month_of_figures(dbs, today, data.application_id)
    boss = web.create_account("boss")
    with dbs.write() as conns:
        accounts.set_roles(conns.app, boss.id, is_admin=True)
        hostile = applications.create(
            conns.app, name='"><img src=x onerror=alert(1)>', version="1", account_id=boss.id
        )
        rng = np.random.default_rng(5)
        waiting = [
            submissions.create(
                conns.ingest,
                account_id=boss.id,
                application_id=hostile.id,
                application_version="1",
                fingerprint=rng.integers(0, 2**31, size=120, dtype=np.int64),
                length=15,
                bitrate=None,
                format=None,
                meta={"track": "x"},
                mbid=None,
                puid=None,
                foreignid=None,
            )
            for _ in range(5)
        ]
        submissions.mark_failed(conns.ingest, waiting[0], "test")
    try:
        with uvicorn_in_thread(web.app) as port:
            yield f"http://127.0.0.1:{port}", web
    finally:
        web.close()
        dbs.dispose()


NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"


def _expected_404s(page_log: PageLog, *paths: str) -> None:
    """Forgive Chromium's console error for each 404 the test expects (the admin page's 404
    to an anonymous visitor)."""
    for error in list(page_log.http_errors):
        if error.startswith("404 ") and error.split("/", 3)[-1] in paths:
            page_log.http_errors.remove(error)
            if NOT_FOUND in page_log.console_errors:
                page_log.console_errors.remove(NOT_FOUND)


def _sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_stats_page_draws_its_charts(quiet_page: Page, site: tuple[str, WebHarness]) -> None:
    page = quiet_page
    base, _ = site
    page.goto(f"{base}/stats")
    assert page.title() == "Statistics · Earmark"
    charts = page.locator("svg.chart")
    assert charts.count() == 4
    for n in range(4):
        box = charts.nth(n).bounding_box()
        assert box is not None
        assert box["width"] > 600  # scaled to the column by the stylesheet, not 0 or 300
        assert box["height"] > 200
    # Every bar and every label is there to read, not only in a tooltip.
    assert page.locator("svg.chart rect.chart-bar").count() >= 30 + 30 + 11 + 11
    assert page.locator("svg.chart text.chart-summary").count() == 4
    assert "Tracks added per day" in page.inner_text("main")
    screenshot(page, "stats")


def test_admin_grants_a_role_and_deactivates_an_application(
    quiet_page: Page, page_log: PageLog, site: tuple[str, WebHarness]
) -> None:
    page = quiet_page
    base, web = site
    helper = web.create_account("helper")
    page.goto(f"{base}/admin")
    assert page.locator("h1").inner_text() == "Page not found"
    _expected_404s(page_log, "admin")
    _sign_in(page, base, "boss")
    page.click("nav >> text=Admin")
    page.wait_for_url(f"{base}/admin")
    assert "Submission queue" in page.inner_text("main")
    screenshot(page, "admin")

    page.goto(f"{base}/admin/accounts")
    page.fill("input[name=q]", "help")
    page.click("form.search-form button")
    page.wait_for_url(f"{base}/admin/accounts?q=help")
    page.click(
        f"form[action='/admin/accounts/{helper.id}/roles']:has(input[value=moderator]) button"
    )
    page.wait_for_url("**/admin/accounts?q=help&changed=*")
    assert "The roles of account" in page.inner_text("main")
    assert "moderator: yes" in page.inner_text("table")
    with web.dbs.read() as conns:
        changed = accounts.get(conns.app, helper.id)
    assert changed is not None
    assert changed.is_moderator
    screenshot(page, "admin-accounts")

    page.goto(f"{base}/admin/applications")
    row = page.locator("tr", has_text="Tagger")
    row.locator("button", has_text="Deactivate").click()
    page.wait_for_url("**/admin/applications?*changed=*")
    assert page.locator("tr", has_text="Tagger").locator("button").inner_text() == "Activate"
    # The hostile application name is text on the page.
    assert page.locator("td", has_text='"><img src=x onerror=alert(1)>').count() == 1
    assert page.locator("img").count() == 0
    screenshot(page, "admin-applications")
