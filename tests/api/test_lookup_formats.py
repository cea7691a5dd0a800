"""``/v2/lookup`` output formats (reference §2: json, jsonp, xml bytes) and metadata when no
MusicBrainz mirror is configured.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import (
    Song,
    load_songs,
    ok,
    post,
)

M1 = uuid.UUID("5f7a5a6e-0b0b-4c6b-8f6e-111111111111")
M2 = uuid.UUID("0c3b6f4e-2a2a-4d4d-9e9e-222222222222")


@pytest.fixture(scope="module")
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


# Metadata without a MusicBrainz mirror.


def test_meta_without_a_mirror_gives_ids_only(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    for mbid in (M1, M1, M2):
        api.submit(
            breeze.items,
            breeze.length,
            mbid=mbid,
            meta={
                "track": "Breeze",
                "artist": "Synth",
                "album": "Antarctic",
                "album_artist": "Synth",
            },
        )
    api.import_pending()
    query = {"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length}
    ids = sorted([str(M1), str(M2)])

    def results(meta: str) -> Any:
        return ok(api, {**query, "meta": meta})["results"][0]

    assert "recordings" not in results("")
    assert "recordings" not in results("0")
    assert results("1")["recordings"] == [{"id": i} for i in ids]
    assert results("recordings releasegroups compress")["recordings"] == [{"id": i} for i in ids]
    sources = {str(M1): 2, str(M2): 1}
    assert results("recordings sources")["recordings"] == [
        {"id": i, "sources": sources[i]} for i in ids
    ]
    assert results("2")["recordings"] == [{"id": i} for i in ids]
    assert results("releasegroups")["releasegroups"] == []
    assert results("releases")["releases"] == []
    # usermeta: MusicBrainz knows nothing here, so the user metadata follows the MBIDs.
    with_user = results("recordings releasegroups usermeta")["recordings"]
    assert with_user[:2] == [{"id": i} for i in ids]
    assert with_user[2:] == [
        {
            "title": "Breeze",
            "artists": ["Synth"],
            "releasegroups": [{"title": "Antarctic", "artists": ["Synth"]}],
        }
    ]
    # Nothing is reported: without a mirror nobody knows which MBIDs are missing.
    assert api.counters.missing_mbids.take(100) == []


# Formats.


def test_xml_bytes(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    response = post(api, {"client": api.client_key, "format": "xml", "trackid": str(gid)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    assert response.content == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b"<response><results><result><id>" + str(gid).encode() + b"</id><score>1.0</score>"
        b"</result></results><status>ok</status></response>"
    )
    empty = post(
        api,
        {
            "client": api.client_key,
            "format": "xml",
            "fingerprint": breeze.text,
            "duration": "1",
            "batch": "1",
        },
    )
    assert empty.content == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b"<response><fingerprints><fingerprint><index>None</index><results />"
        b"</fingerprint></fingerprints><status>ok</status></response>"
    )


def test_xml_error_bytes(api: ApiHarness) -> None:
    response = post(api, {"client": api.client_key, "format": "xml"})
    assert response.status_code == 400
    assert response.content == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b"<response><error><code>2</code><message>missing required parameter "
        b'"fingerprint"</message></error><status>error</status></response>'
    )


def test_jsonp_bytes(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    params = {
        "client": api.client_key,
        "format": "jsonp",
        "jsoncallback": "my.cb_1",
        "trackid": str(gid),
    }
    response = post(api, params)
    assert response.headers["content-type"] == "application/javascript; charset=UTF-8"
    assert response.content == (
        b'my.cb_1({"results": [{"id": "'
        + str(gid).encode()
        + b'", "score": 1.0}], "status": "ok"})'
    )
    # A callback that is no JavaScript identifier path: the default one.
    response = post(api, {**params, "jsoncallback": "alert(1)//"})
    assert response.content.startswith(b'jsonAcoustidApi({"results": [{"id": "')
    error = post(api, {"format": "jsonp", "trackid": str(gid)})
    assert error.status_code == 400
    assert error.content == (
        b'jsonAcoustidApi({"error": {"code": 2, "message": "missing required parameter '
        b'\\"client\\""}, "status": "error"})'
    )


def test_json_is_the_default_and_sorted(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    response = post(api, {"client": api.client_key, "trackid": str(gid)})
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.content == (
        b'{"results": [{"id": "' + str(gid).encode() + b'", "score": 1.0}], "status": "ok"}'
    )


def test_get_with_a_query_string_works_too(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    response = api.client.get(
        "/v2/lookup",
        params={"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length},
    )
    assert response.json() == {"status": "ok", "results": [{"id": str(gid), "score": 1.0}]}
