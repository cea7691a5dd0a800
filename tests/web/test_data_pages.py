"""The data pages in process, on SQLite and PostgreSQL: /track, /fingerprint, compare, /mbid."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from markupsafe import escape

from earmark.chromaprint.compare import compare2
from earmark.db import curation, tracks
from earmark.search import MAX_OFFSET
from tests.api.lookup_helpers import Song, load_songs
from tests.web.data_support import HOSTILE, MISSING, MOON, DataSite, data_site
from tests.web.harness import WebHarness

__all__ = ["data_site"]


@pytest.fixture
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


def _json_block(page: str, block_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', page)
    assert found is not None, f"no data block {block_id}"
    return json.loads(found.group(1))


def _fingerprint_ids(site: DataSite, gid: uuid.UUID) -> list[int]:
    with site.dbs.read() as conns:
        return tracks.fingerprint_ids(conns.fingerprint, site.track_id(gid))


def test_track_page_shows_fingerprints_recordings_and_metadata(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    breeze = songs["breeze"]
    meta = {"track": "Arctic Breeze", "artist": "SuperTux", "album": "Antarctic", "year": 2010}
    gid = data_site.add_track(breeze, [MOON, MISSING], meta=meta)
    page = data_site.web.client.get(f"/track/{gid}")
    assert page.status_code == 200
    text = page.text
    [fp_id] = _fingerprint_ids(data_site, gid)
    minutes, seconds = divmod(breeze.length, 60)
    assert f'<a href="/fingerprint/{fp_id}">{fp_id}</a>' in text
    assert f"<td>{minutes}:{seconds:02d}</td>" in text
    # Moon from the mirror: title, artist and its length (367000 ms); the unknown MBID bare.
    assert '<a href="/mbid/7853bd8c-2141-4b4d-9f62-578bab214ab9">Moon</a>' in text
    assert "<td>6:07</td>" in text
    assert f'<code>{MISSING}</code></a> <span class="note">(not in the MusicBrainz data)' in text
    assert text.count('<span class="badge on">enabled</span>') == 2
    for value in ("Arctic Breeze", "SuperTux", "Antarctic", "2010"):
        assert f"<td>{value}</td>" in text
    # Anonymous visitors get no controls, and are told why.
    assert "/edit/toggle-track-mbid" not in text
    assert "Moderators can disable a wrong link here" in text
    assert "Nobody changed the links of this track." in text


def test_track_page_without_a_mirror_shows_mbids(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["boss"], [MOON])
    bare = WebHarness(data_site.dbs)  # no mirror, no searcher
    try:
        page = bare.client.get(f"/track/{gid}")
    finally:
        bare.close()
    assert page.status_code == 200
    assert f'<a href="/mbid/{MOON}"><code>{MOON}</code></a>' in page.text
    assert "no MusicBrainz data at hand" in page.text
    assert ">Moon<" not in page.text


def test_track_addresses_redirect_to_the_canonical_one(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON])
    other = data_site.add_track(songs["disko"], [MOON])
    client = data_site.web.client
    for asked in (str(data_site.track_id(gid)), str(gid).upper()):
        answer = client.get(f"/track/{asked}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/track/{gid}"
    # A merged track sends visitors to the one that survived (keeping ?disabled=1).
    data_site.merge(other, into=gid)
    answer = client.get(f"/track/{other}?disabled=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/track/{gid}?disabled=1"


@pytest.mark.parametrize(
    "path",
    [
        "/track/not-a-uuid",
        "/track/0d2f6a7c-3b1e-4c59-9a84-5e7f1b2c3d4e",  # well-formed, unknown
        "/track/99999999999",
        "/track/2147483648",
        "/track/0",
        "/track/%3Cscript%3E",
        "/fingerprint/0",
        "/fingerprint/2147483648",
        "/fingerprint/99999999999999999999999",
        "/fingerprint/1/compare/99999999999999999999",
        "/fingerprint/-1",
        "/mbid/not-an-mbid",
        "/mbid/%3Cimg%20src=x%3E",
    ],
)
def test_unknown_and_malformed_ids_are_404_pages(data_site: DataSite, path: str) -> None:
    answer = data_site.web.client.get(path, follow_redirects=False)
    assert answer.status_code == 404, (path, answer.text[:300])
    assert "<h1>Page not found</h1>" in answer.text
    assert "<script>" not in answer.text
    assert "<img" not in answer.text


def test_disabled_links_are_hidden_unless_asked(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON, MISSING])
    with data_site.dbs.write() as conns:
        outcome = curation.toggle_mbid_link(
            conns,
            data_site.track_id(gid),
            uuid.UUID(MISSING),
            disabled=True,
            account_id=data_site.api.account_id,
            note="never existed",
        )
    assert outcome is curation.ToggleOutcome.CHANGED
    page = data_site.web.client.get(f"/track/{gid}").text
    assert f'data-mbid="{MISSING}"' not in page
    assert "Show 1 disabled link</a>" in page
    assert "never existed" in page  # the history names it anyway
    shown = data_site.web.client.get(f"/track/{gid}?disabled=1").text
    assert f'<tr class="disabled" data-mbid="{MISSING}">' in shown
    assert '<span class="badge off">disabled</span>' in shown
    assert "Hide disabled links" in shown


def test_fingerprint_page_carries_the_items_for_the_canvas(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    breeze = songs["breeze"]
    gid = data_site.add_track(breeze, [MOON])
    [fp_id] = _fingerprint_ids(data_site, gid)
    page = data_site.web.client.get(f"/fingerprint/{fp_id}")
    assert page.status_code == 200
    data = _json_block(page.text, "fp-data")
    assert [v & 0xFFFFFFFF for v in data["items"]] == [int(v) for v in breeze.items]
    assert data["label"] == f"Fingerprint {fp_id}"
    assert 'data-fingerprint-source="fp-data"' in page.text
    assert f'<a href="/track/{gid}">' in page.text
    assert re.search(r'<script src="/static/fingerprint\.[0-9a-f]{12}\.js" defer>', page.text)


def test_compare_page_gives_both_fingerprints_and_the_matchers_score(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    night = data_site.add_track(songs["night"], [MOON])
    breeze = data_site.add_track(songs["breeze"], [MOON])
    [a] = _fingerprint_ids(data_site, night)
    [b] = _fingerprint_ids(data_site, breeze)
    client = data_site.web.client
    answer = client.get(f"/fingerprint/{a}?with={b}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/fingerprint/{a}/compare/{b}"
    for query in ("?with=abc", "?with=-3", "?with=" + "9" * 30):
        assert client.get(f"/fingerprint/{a}{query}").status_code == 400
    page = client.get(f"/fingerprint/{a}/compare/{b}")
    assert page.status_code == 200
    data = _json_block(page.text, "cmp-data")
    expected = compare2(songs["night"].items, songs["breeze"].items, MAX_OFFSET)
    assert data["score"] == pytest.approx(expected)
    assert data["maxOffset"] == MAX_OFFSET
    assert [v & 0xFFFFFFFF for v in data["b"]["items"]] == [int(v) for v in songs["breeze"].items]
    assert f'<strong id="matcher-score">{expected:.3f}</strong>' in page.text
    same = _json_block(client.get(f"/fingerprint/{a}/compare/{a}").text, "cmp-data")
    assert same["score"] == pytest.approx(1.0)


def test_mbid_page_shows_the_recording_and_its_tracks(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON])
    client = data_site.web.client
    page = client.get(f"/mbid/{MOON}")
    assert page.status_code == 200
    assert "<h1>Moon</h1>" in page.text
    assert "<dd>6:07</dd>" in page.text
    assert "<h2>Releases</h2>" in page.text
    assert "<table" in page.text
    assert f'<a href="/track/{gid}">' in page.text
    upper = client.get(f"/mbid/{MOON.upper()}", follow_redirects=False)
    assert upper.status_code == 303
    assert upper.headers["location"] == f"/mbid/{MOON}"
    # Not in the mirror, linked to nothing: a 404 that says why.
    nothing = client.get(f"/mbid/{MISSING}")
    assert nothing.status_code == 404
    assert 'id="not-in-musicbrainz"' in nothing.text
    # Not in the mirror but linked: the page says so and still lists the tracks.
    data_site.add_track(songs["disko"], [MISSING])
    missing = client.get(f"/mbid/{MISSING}")
    assert missing.status_code == 200
    assert 'id="not-in-musicbrainz"' in missing.text
    assert "/track/" in missing.text
    # Known to the mirror, linked to nothing: the recording, no tracks.
    lonely = data_site.mirror.synthetic.recordings[0]
    page = client.get(f"/mbid/{lonely}")
    assert page.status_code == 200
    assert "No AcoustID track is linked to this recording." in page.text


def test_hostile_metadata_is_text(data_site: DataSite, songs: dict[str, Song]) -> None:
    meta = {"track": HOSTILE, "artist": HOSTILE, "album": "</td></tr></table>" + HOSTILE}
    gid = data_site.add_track(songs["breeze"], [MOON], meta=meta)
    page = data_site.web.client.get(f"/track/{gid}").text
    assert HOSTILE not in page
    assert "<script>alert" not in page
    assert page.count(str(escape(HOSTILE))) >= 3
