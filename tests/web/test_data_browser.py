"""The data pages in Chromium: the site and the API served together (as `earmark serve` does)
over real databases, an index and the MusicBrainz mirror, with real imported fingerprints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from markupsafe import escape

from earmark.app_web import SiteAndApi
from earmark.chromaprint.files import fingerprint_file
from earmark.db import tracks
from earmark.db.engine import Databases
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import Song, load_songs
from tests.musicbrainz.support import Mirror
from tests.services import SqliteDatabases
from tests.support import ffmpeg_convert, require_music, uvicorn_in_thread
from tests.web.browser import PageLog, screenshot
from tests.web.data_support import HOSTILE, MISSING, MOON, DataSite, noisy_copy
from tests.web.harness import PASSWORD, WebHarness

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: fingerprint.js's colours (red channel): 1 bits and 0 bits.
ONE, ZERO = 26, 232


@pytest.fixture
def served(
    sqlite_databases: SqliteDatabases, sqlite_mirror: Mirror, tmp_path: Path
) -> Iterator[tuple[DataSite, str]]:
    """The site and the API on one port of 127.0.0.1 (SQLite); (the site, its base URL)."""
    dbs = Databases.single(sqlite_databases.create())
    api = ApiHarness(dbs, tmp_path / "index", sqlite_mirror.database)
    web = WebHarness(dbs, mirror=sqlite_mirror.database, searcher=api.searcher)
    try:
        with uvicorn_in_thread(SiteAndApi(api.app, web.app)) as port:
            yield DataSite(api, web, sqlite_mirror), f"http://127.0.0.1:{port}"
    finally:
        web.close()
        api.close()
        dbs.dispose()


@pytest.fixture(scope="module")
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


def _canvas_reds(page: Page, selector: str) -> set[int]:
    reds: list[int] = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
            const red = new Set();
            for (let p = 0; p < data.data.length; p += 4) red.add(data.data[p]);
            return Array.from(red);
        }""",
        selector,
    )
    return set(reds)


def _sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("text=Signed in as")


def _lookup(site: DataSite, base: str, song: Song) -> list[str]:
    """The recording ids the API on the served port answers for ``song``."""
    body = httpx.post(
        f"{base}/v2/lookup",
        data={
            "client": site.api.client_key,
            "fingerprint": song.text,
            "duration": str(song.length),
            "meta": "recordingids",
        },
    ).json()
    assert body["status"] == "ok", body
    return sorted(r["id"] for r in body["results"][0].get("recordings", []))


def test_track_fingerprint_and_compare_pages(
    page: Page, served: tuple[DataSite, str], songs: dict[str, Song]
) -> None:
    site, base = served
    meta = {"track": HOSTILE, "artist": HOSTILE, "album": "Antarctic"}
    gid = site.add_track(songs["night"], [MOON, MISSING], meta=meta)
    assert site.add_track(noisy_copy(songs["night"]), [MOON]) == gid
    with site.dbs.read() as conns:
        fp_ids = tracks.fingerprint_ids(conns.fingerprint, site.track_id(gid))
    assert len(fp_ids) == 2

    page.goto(f"{base}/track/{gid}")
    assert page.locator("h1").inner_text() == f"Track {gid}"
    assert page.locator("tr[data-mbid] a", has_text="Moon").count() == 1
    assert page.locator("td", has_text=HOSTILE).count() >= 2  # shown as text, nothing ran
    screenshot(page, "data-track")

    page.click(f"a[href='/fingerprint/{fp_ids[0]}']")
    page.wait_for_selector("#fingerprint canvas")
    reds = _canvas_reds(page, "#fingerprint canvas")
    assert {ONE, ZERO} <= reds  # drawn: both kinds of bit
    screenshot(page, "data-fingerprint")

    page.fill("#with", str(fp_ids[1]))
    page.click("form.compare-with button")
    page.wait_for_selector("#compare .fingerprint-agreement")
    assert page.url == f"{base}/fingerprint/{fp_ids[0]}/compare/{fp_ids[1]}"
    score = page.locator("#compare .fingerprint-score").inner_text()
    assert score.startswith("Matcher score (compare2, at its best offset): 0.8")
    assert score.endswith(page.locator("#matcher-score").inner_text())
    before = page.locator("#compare .fingerprint-agreement").inner_text()
    slider = page.locator("#compare input[type=range]")
    slider.focus()
    for _ in range(24):
        page.keyboard.press("ArrowLeft")
    assert slider.input_value() == "-24"
    after = page.locator("#compare .fingerprint-agreement").inner_text()
    assert after.startswith("Bit agreement at offset -24: 9")  # 92 % (8 % of bits flipped)
    assert after != before
    screenshot(page, "data-compare")

    page.goto(f"{base}/mbid/{MOON}")
    assert page.locator("h1").inner_text() == "Moon"
    assert page.locator(f"a[href='/track/{gid}']").count() == 1
    screenshot(page, "data-mbid")
    page.goto(f"{base}/mbid/{MISSING}")
    assert page.locator("#not-in-musicbrainz").is_visible()
    screenshot(page, "data-mbid-missing")


def test_a_moderator_disables_a_link_and_the_lookup_changes(
    page: Page, served: tuple[DataSite, str], songs: dict[str, Song]
) -> None:
    site, base = served
    breeze = songs["breeze"]
    gid = site.add_track(breeze, [MOON, MISSING])
    assert _lookup(site, base, breeze) == sorted([MOON, MISSING])
    site.moderator("curator")
    _sign_in(page, base, "curator")
    page.goto(f"{base}/track/{gid}")
    row = page.locator(f"tr[data-mbid='{MOON}']")
    note = "Wrong recording <b>bold</b> <script>alert(3)</script>"
    row.locator("input[name=note]").fill(note)
    row.locator("button", has_text="Disable").click()
    page.wait_for_selector("text=Show 1 disabled link")
    assert _lookup(site, base, breeze) == [MISSING]
    history = page.locator("table.history")
    assert history.locator(".change-note").inner_text() == note
    assert history.locator("td", has_text="curator").count() == 1
    assert page.locator("b", has_text="bold").count() == 0
    assert str(escape(note)) in page.content()
    screenshot(page, "data-track-moderated")

    page.click("text=Show 1 disabled link")
    row = page.locator(f"tr[data-mbid='{MOON}']")
    row.locator("button", has_text="Enable").click()
    page.wait_for_selector(f"tr.enabled[data-mbid='{MOON}']")
    assert _lookup(site, base, breeze) == sorted([MOON, MISSING])


def test_a_non_moderator_sees_why(
    page: Page, served: tuple[DataSite, str], songs: dict[str, Song]
) -> None:
    site, base = served
    gid = site.add_track(songs["boss"], [MOON])
    site.web.create_account("listener")
    _sign_in(page, base, "listener")
    page.goto(f"{base}/track/{gid}")
    assert "Only moderators can disable or enable these links" in page.inner_text(
        "#why-no-controls"
    )
    assert page.locator("form.toggle").count() == 0


def test_identify_an_uploaded_file(
    page: Page, page_log: PageLog, served: tuple[DataSite, str], tmp_path: Path
) -> None:
    site, base = served
    [original] = require_music(1)
    found = fingerprint_file(original)
    gid = site.add_track(Song(found.items, round(found.duration)), [MOON])
    upload = ffmpeg_convert(original, tmp_path / "my song.mp3", "-b:a", "96k")
    page.goto(f"{base}/identify")
    screenshot(page, "data-identify-form")
    page.set_input_files("#file", str(upload))
    page.click("form.form button[type=submit]")
    page.wait_for_selector("#results")
    assert page.locator(f"section.match a[href='/track/{gid}']").count() == 1
    assert page.locator("section.match a", has_text="Moon").count() == 1
    screenshot(page, "data-identify-result")

    text = tmp_path / "notes.mp3"
    text.write_text("not music at all\n" * 50)
    page.set_input_files("#file", str(text))
    page.click("form.form button[type=submit]")
    page.wait_for_selector("p.error")
    assert "not an audio file" in page.inner_text("p.error")
    screenshot(page, "data-identify-error")
    _expect_http_error(page_log, 400)


def test_the_gid_in_a_track_address_is_checked(
    page: Page, page_log: PageLog, served: tuple[DataSite, str]
) -> None:
    _, base = served
    answer = page.goto(f"{base}/track/{uuid.uuid4()}")
    assert answer is not None
    assert answer.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    _expect_http_error(page_log, 404)


def _expect_http_error(page_log: PageLog, status: int) -> None:
    """The page answered ``status`` on purpose: take Chromium's console error for it out of the
    log (the fixture fails the test on any other)."""
    assert any(e.startswith(f"{status} ") for e in page_log.http_errors), page_log.http_errors
    page_log.console_errors[:] = [
        e for e in page_log.console_errors if f"status of {status}" not in e
    ]
