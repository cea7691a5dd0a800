"""/stats over a known data set rolled up by the real daily job, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

from earmark.db import stats
from tests.web.harness import WebHarness
from tests.web.statsdata import write_known_data


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _totals(html: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))


def _tips(html: str) -> set[str]:
    return set(re.findall(r"<title>([^<]+)</title>", html))


def test_the_figures_of_a_known_data_set(web: WebHarness) -> None:
    data = write_known_data(web.dbs, _today())
    page = web.client.get("/stats")
    assert page.status_code == 200
    html = page.text
    assert _totals(html) == {
        "Tracks (AcoustIDs)": "4",
        "Fingerprints": "6",
        "MusicBrainz recordings": "14",
        "Contributors": "2",
    }
    assert f"daily roll-up of {data.today.isoformat()}" in html
    assert "3 tracks are linked to at least one recording" in html
    tips = _tips(html)
    # New tracks: one on the second day (T4); the first roll-up has no day before it.
    assert f"{data.today.isoformat()}: 1 tracks" in tips
    yesterday = data.today - dt.timedelta(days=1)
    assert f"{yesterday.isoformat()}: 0 tracks" in tips
    # Lookups until yesterday; today's 100 are not on the chart.
    assert f"{yesterday.isoformat()}: 10 lookups" in tips
    assert f"{(data.today - dt.timedelta(days=3)).isoformat()}: 10 lookups" in tips
    assert not any(tip.startswith(data.today.isoformat()) and "lookups" in tip for tip in tips)
    assert "20 in the 2" in html
    assert "13 of them found a track" in html
    assert "7 none" in html
    # Recordings by their tracks: M1 has two (T1, T2), the thirteen others one each (M2's
    # link to T3 is disabled and does not count).
    assert "1 tracks linked to the recording: 13 recordings" in tips
    assert "2 tracks linked to the recording: 1 recordings" in tips
    assert "0 tracks linked to the recording: 0 recordings" in tips
    # Tracks by their recordings: T3 none, T2 one, T1 two, T4 twelve ("10+").
    for bucket in ("0", "1", "2", "10+"):
        assert f"{bucket} recordings linked to the track: 1 tracks" in tips
    assert "5 recordings linked to the track: 0 tracks" in tips
    # Four charts, inline SVG (no script), each with its title.
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    assert "New tracks per day, last 30 days" in html
    assert "Lookups per day, last 30 days" in html


def test_the_page_is_reused_for_a_minute(web: WebHarness) -> None:
    today = _today()
    write_known_data(web.dbs, today)
    assert _totals(web.client.get("/stats").text)["Tracks (AcoustIDs)"] == "4"
    with web.dbs.write() as conns:
        stats.store_figures(conns.app, today, {"track.all": 5})
    # Cached: the new roll-up shows once the entry expires (here: the cache is emptied).
    assert _totals(web.client.get("/stats").text)["Tracks (AcoustIDs)"] == "4"
    web.services.cache.clear()
    assert _totals(web.client.get("/stats").text)["Tracks (AcoustIDs)"] == "5"


def test_before_the_first_roll_up(web: WebHarness) -> None:
    page = web.client.get("/stats")
    assert page.status_code == 200
    assert "No daily roll-up yet" in page.text
    assert "earmark run cron --once update-stats" in page.text
    assert set(_totals(page.text).values()) == {"0"}
    assert page.text.count("No data yet") == 2  # the daily charts; histograms say "No … yet"
    assert "No recordings yet" in page.text
    assert "No tracks yet" in page.text


def test_a_shrinking_total_shows_as_no_addition(web: WebHarness) -> None:
    today = _today()
    yesterday = today - dt.timedelta(days=1)
    with web.dbs.write() as conns:
        stats.store_figures(conns.app, yesterday, {"track.all": 10})
        stats.store_figures(conns.app, today, {"track.all": 7})  # tracks merged
    page = web.client.get("/stats")
    assert page.status_code == 200
    assert f"{today.isoformat()}: 0 tracks" in _tips(page.text)


def test_only_get_and_head(web: WebHarness) -> None:
    assert web.client.head("/stats").status_code == 200
    refused = web.client.post("/stats", data={"x": "1"})
    assert refused.status_code == 405
    assert "Method not allowed" in refused.text
    # Unknown query parameters are ignored, never echoed.
    odd = web.client.get("/stats?days=%00<script>")
    assert odd.status_code == 200
    assert "<script>" not in odd.text
