"""Moderation: POST /edit/toggle-track-mbid, on SQLite and PostgreSQL, seen through /v2/lookup."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from markupsafe import escape

from earmark.db import curation, links
from tests.api.lookup_helpers import Song, load_songs
from tests.web.data_support import HOSTILE, MISSING, MOON, DataSite, data_site
from tests.web.harness import csrf_token

__all__ = ["data_site"]
PATH = "/edit/toggle-track-mbid"


@pytest.fixture
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


def _state(site: DataSite, gid: uuid.UUID, mbid: str) -> tuple[bool, list[curation.MbidChange]]:
    with site.dbs.read() as conns:
        link = links.mbid_link(conns.fingerprint, site.track_id(gid), uuid.UUID(mbid))
        assert link is not None
        return link.disabled, curation.mbid_changes(conns.ingest, [link.id])


def _toggle(site: DataSite, gid: uuid.UUID, **fields: str) -> Any:
    token = csrf_token(site.web.client.get("/identify").text)
    data = {"csrf_token": token, "track": str(gid), "mbid": MOON, "state": "1", "note": "x"}
    data.update(fields)
    return site.web.client.post(PATH, data=data, follow_redirects=False)


def test_a_moderator_disables_and_enables_a_link_and_lookups_follow(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    breeze = songs["breeze"]
    gid = data_site.add_track(breeze, [MOON, MISSING])
    assert sorted(data_site.lookup_mbids(breeze)) == sorted([MOON, MISSING])
    curator = data_site.moderator()
    page = data_site.web.client.get(f"/track/{gid}").text
    assert page.count('action="/edit/toggle-track-mbid"') == 2

    answer = _toggle(data_site, gid, note="wrong song: " + HOSTILE)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/track/{gid}"
    disabled, changes = _state(data_site, gid, MOON)
    assert disabled
    [change] = changes
    assert (change.account_id, change.disabled, change.note) == (
        curator.id,
        True,
        "wrong song: " + HOSTILE,
    )
    assert data_site.lookup_mbids(breeze) == [MISSING]
    # The history names the curator and shows the note as text.
    page = data_site.web.client.get(f"/track/{gid}?disabled=1").text
    assert "<td>curator</td>" in page
    assert str(escape("wrong song: " + HOSTILE)) in page
    assert HOSTILE not in page

    # Asking again for the state it has changes nothing and writes no history.
    assert _toggle(data_site, gid).status_code == 303
    assert len(_state(data_site, gid, MOON)[1]) == 1

    answer = _toggle(data_site, gid, state="0", note="", return_url=f"/track/{gid}?disabled=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/track/{gid}?disabled=1"
    disabled, changes = _state(data_site, gid, MOON)
    assert not disabled
    assert [(c.disabled, c.note) for c in changes] == [(False, None), (True, changes[1].note)]
    assert sorted(data_site.lookup_mbids(breeze)) == sorted([MOON, MISSING])


def test_people_who_are_not_moderators_are_told_why_and_nothing_changes(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON])
    anonymous = _toggle(data_site, gid)
    assert anonymous.status_code == 403
    assert "Sign in first" in anonymous.text
    data_site.web.create_account("listener")
    data_site.web.sign_in("listener")
    page = data_site.web.client.get(f"/track/{gid}").text
    assert "Only moderators can disable or enable these links" in page
    assert PATH not in page
    refused = _toggle(data_site, gid)
    assert refused.status_code == 403
    assert "ask an administrator of this server to make your account a moderator" in refused.text
    assert _state(data_site, gid, MOON) == (False, [])
    assert data_site.lookup_mbids(songs["breeze"]) == [MOON]


def test_bad_requests_change_nothing(data_site: DataSite, songs: dict[str, Song]) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON])
    other = data_site.add_track(songs["disko"], [MISSING])
    data_site.moderator()
    client = data_site.web.client
    no_token = client.post(PATH, data={"track": str(gid), "mbid": MOON, "state": "1", "note": "x"})
    assert no_token.status_code == 403
    assert "security token" in no_token.text
    wrong_token = _toggle(data_site, gid, csrf_token="forged")
    assert wrong_token.status_code == 403
    for fields, status, message in [
        ({"state": "2"}, 400, "The state must be 1"),
        ({"state": ""}, 400, "The state must be 1"),
        ({"mbid": "not-an-mbid"}, 400, "not a valid id"),
        ({"mbid": HOSTILE}, 400, "not a valid id"),
        ({"track": "x" * 200}, 400, "too long"),
        ({"track": str(uuid.uuid4())}, 404, "no such track"),
        ({"track": str(other)}, 404, "no link to that MusicBrainz recording"),
        ({"note": ""}, 400, "Say in the note why"),
        ({"note": "n" * (curation.NOTE_MAX + 1)}, 400, "too long"),
    ]:
        answer = _toggle(data_site, gid, **fields)
        assert answer.status_code == status, (fields, answer.text[-500:])
        assert message in answer.text, fields
        assert "<script>" not in answer.text
    get = client.get(PATH)
    assert get.status_code == 405
    oversized = client.post(
        PATH,
        content=b"a" * 200_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert oversized.status_code == 413
    assert _state(data_site, gid, MOON) == (False, [])
    # A return_url elsewhere is not followed.
    answer = _toggle(data_site, gid, return_url="https://evil.example/")
    assert answer.headers["location"] == f"/track/{gid}"


def test_a_merged_tracks_gid_moderates_the_surviving_track(
    data_site: DataSite, songs: dict[str, Song]
) -> None:
    gid = data_site.add_track(songs["breeze"], [MOON])
    old = data_site.add_track(songs["disko"], [MISSING])
    data_site.merge(old, into=gid)
    data_site.moderator()
    answer = _toggle(data_site, gid, track=str(old))
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/track/{gid}"
    assert _state(data_site, gid, MOON)[0]
