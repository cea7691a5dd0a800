"""/v2/track/list_by_mbid, /v2/track/list_by_puid and /v2/fingerprint (reference §5.1-§5.3)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from earmark.db import links, tracks
from earmark.db.engine import Databases
from earmark.ratelimit import Rates
from tests.api.harness import ApiHarness
from tests.importer.harness import fixture_items

M1 = uuid.UUID("5f7a5a6e-0b0b-4c6b-8f6e-111111111111")
M2 = uuid.UUID("0c3b6f4e-2a2a-4d4d-9e9e-222222222222")
UNKNOWN = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
PUID = uuid.UUID("7d3f0a1b-1234-4abc-9def-333333333333")


def post(api: ApiHarness, path: str, params: Sequence[tuple[str, str]] | dict[str, str]) -> Any:
    """POST ``params`` urlencoded (repeated keys kept, which ``data=`` cannot express)."""
    items = list(params.items()) if isinstance(params, dict) else list(params)
    return api.client.post(
        path,
        content=urlencode(items),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def error_of(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert body["status"] == "error", body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def xml_of(response: Any) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    return ET.fromstring(response.content)


@pytest.fixture
def catalogue(api: ApiHarness, acoustid_fixtures: Any) -> dict[str, uuid.UUID]:
    """Track ``a`` (fingerprint 1A) linked to M1 and M2, track ``b`` (fingerprint 2) linked to
    M1 by a link that is then disabled, and to M2."""
    items_a, length_a = fixture_items(acoustid_fixtures, "1A")
    items_b, length_b = fixture_items(acoustid_fixtures, "2")
    a = api.add_track(items_a, length_a, mbids=[M1, M2])
    b = api.add_track(items_b, length_b, mbids=[M1, M2])
    with api.dbs.write() as conns:
        found = tracks.get_by_gid(conns.fingerprint, b)
        assert found is not None
        link = links.mbid_link(conns.fingerprint, found.id, M1)
        assert link is not None
        assert links.set_mbid_disabled(conns.fingerprint, link.id, True)
    return {"a": a, "b": b}


# --- list_by_mbid -----------------------------------------------------------------------------

LIST_BY_MBID_ERRORS: list[tuple[str, list[tuple[str, str]], int, int, str]] = [
    ("no mbid", [], 400, 2, 'missing required parameter "mbid"'),
    ("empty mbid", [("mbid", "")], 400, 7, 'parameter "mbid" is not a valid UUID'),
    ("not a uuid", [("mbid", "nope")], 400, 7, 'parameter "mbid" is not a valid UUID'),
    (
        "one bad of two",
        [("mbid", str(M1)), ("mbid", "x")],
        400,
        7,
        'parameter "mbid" is not a valid UUID',
    ),
    (
        "uuid with braces",
        [("mbid", "{" + str(M1) + "}")],
        400,
        7,
        'parameter "mbid" is not a valid UUID',
    ),
    ("huge value", [("mbid", "f" * 200_000)], 400, 7, 'parameter "mbid" is not a valid UUID'),
    ("format before mbid", [("format", "yaml")], 400, 1, 'unknown format "yaml"'),
    (
        "format before bad mbid",
        [("format", "yaml"), ("mbid", "x")],
        400,
        1,
        'unknown format "yaml"',
    ),
]


def test_list_by_mbid_errors(api: ApiHarness) -> None:
    for case, params, status, code, message in LIST_BY_MBID_ERRORS:
        response = post(api, "/v2/track/list_by_mbid", params)
        assert error_of(response) == (status, code, message), case
    response = api.client.get("/v2/track/list_by_mbid?mbid=%FF%FE%00")
    assert error_of(response)[:2] == (400, 7)


LIST_BY_MBID_CASES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("enabled links only", [("mbid", str(M1))], ["a"]),
    ("upper case finds its tracks", [("mbid", str(M1).upper())], ["a"]),
    ("first mbid only without batch", [("mbid", str(M2)), ("mbid", str(M1))], ["a", "b"]),
    ("unknown mbid", [("mbid", str(UNKNOWN))], []),
    ("disabled=0 is off", [("mbid", str(M1)), ("disabled", "0")], ["a"]),
    ("disabled=x is off", [("mbid", str(M1)), ("disabled", "x")], ["a"]),
    ("disabled=1 adds them", [("mbid", str(M1)), ("disabled", "1")], ["a", "b!"]),
    ("disabled=-3 is truthy", [("mbid", str(M1)), ("disabled", "-3")], ["a", "b!"]),
    ("batch=0 is not batch", [("mbid", str(M2)), ("batch", "0")], ["a", "b"]),
]


def test_list_by_mbid_single(api: ApiHarness, catalogue: dict[str, uuid.UUID]) -> None:
    """Tracks come oldest first; ``b!`` is track b marked disabled."""
    for case, params, expected in LIST_BY_MBID_CASES:
        tracks_json = []
        for name in expected:
            item: dict[str, Any] = {"id": str(catalogue[name.rstrip("!")])}
            if name.endswith("!"):
                item["disabled"] = True
            tracks_json.append(item)
        response = post(api, "/v2/track/list_by_mbid", params)
        assert response.status_code == 200, case
        assert response.json() == {"status": "ok", "tracks": tracks_json}, case


def test_list_by_mbid_batch_answers_each_mbid_as_sent(
    api: ApiHarness, catalogue: dict[str, uuid.UUID]
) -> None:
    a, b = str(catalogue["a"]), str(catalogue["b"])
    sent = [str(M1).upper(), str(UNKNOWN), str(M2), str(M1).upper()]
    response = post(
        api,
        "/v2/track/list_by_mbid",
        [("batch", "1"), ("disabled", "1"), *[("mbid", m) for m in sent]],
    )
    assert response.json() == {
        "status": "ok",
        "mbids": [
            {"mbid": sent[0], "tracks": [{"id": a}, {"id": b, "disabled": True}]},
            {"mbid": sent[1], "tracks": []},
            {"mbid": sent[2], "tracks": [{"id": a}, {"id": b}]},
            {"mbid": sent[3], "tracks": [{"id": a}, {"id": b, "disabled": True}]},
        ],
    }


def test_list_by_mbid_xml(api: ApiHarness, catalogue: dict[str, uuid.UUID]) -> None:
    single = xml_of(
        post(api, "/v2/track/list_by_mbid", {"mbid": str(M1), "disabled": "1", "format": "xml"})
    )
    assert single.findtext("status") == "ok"
    assert [t.findtext("id") for t in single.iterfind("tracks/track")] == [
        str(catalogue["a"]),
        str(catalogue["b"]),
    ]
    assert [t.findtext("disabled") for t in single.iterfind("tracks/track")] == [None, "True"]
    batch = xml_of(
        post(api, "/v2/track/list_by_mbid", {"mbid": str(M2), "batch": "1", "format": "xml"})
    )
    # The reference's naive singular names a list item of "mbids" "mbid", holding an "mbid".
    assert batch.findtext("mbids/mbid/mbid") == str(M2)
    assert len(batch.findall("mbids/mbid/tracks/track")) == 2


def test_list_by_mbid_many_repeated_mbids(api: ApiHarness, catalogue: dict[str, uuid.UUID]) -> None:
    """999 mbids and ``batch`` fill the 1000 parameters allowed; one more is error 19."""
    many = [("mbid", str(M2))] * 999
    response = post(api, "/v2/track/list_by_mbid", [("batch", "1"), *many])
    entries = response.json()["mbids"]
    assert len(entries) == 999
    assert all(len(e["tracks"]) == 2 for e in entries)
    single = post(api, "/v2/track/list_by_mbid", [("mbid", str(M1))] * 1000)
    assert single.json()["tracks"] == [{"id": str(catalogue["a"])}]
    too_many = post(api, "/v2/track/list_by_mbid", [("batch", "1"), *many, ("mbid", str(M1))])
    assert error_of(too_many)[:2] == (413, 19)


def test_list_by_mbid_jsonp(api: ApiHarness, catalogue: dict[str, uuid.UUID]) -> None:
    response = post(
        api, "/v2/track/list_by_mbid", {"mbid": str(M1), "format": "jsonp", "jsoncallback": "cb.x"}
    )
    assert response.text == f'cb.x({{"status": "ok", "tracks": [{{"id": "{catalogue["a"]}"}}]}})'


# --- list_by_puid -----------------------------------------------------------------------------

LIST_BY_PUID_ERRORS: list[tuple[str, list[tuple[str, str]], int, str]] = [
    ("no puid", [], 2, 'missing required parameter "puid"'),
    ("empty puid", [("puid", "")], 2, 'missing required parameter "puid"'),
    ("bad puid", [("puid", "123")], 7, 'parameter "puid" is not a valid UUID'),
    (
        "first puid counts",
        [("puid", "x"), ("puid", str(PUID))],
        7,
        'parameter "puid" is not a valid UUID',
    ),
    ("format first", [("format", "csv"), ("puid", "x")], 1, 'unknown format "csv"'),
]


def test_list_by_puid_errors(api: ApiHarness) -> None:
    for case, params, code, message in LIST_BY_PUID_ERRORS:
        response = post(api, "/v2/track/list_by_puid", params)
        assert error_of(response) == (400, code, message), case


def test_list_by_puid_answers_the_linked_tracks(api: ApiHarness, acoustid_fixtures: Any) -> None:
    """Earmark keeps PUID links, so it answers them (the reference is always empty)."""
    gids = []
    for name in ("1A", "2"):
        items, length = fixture_items(acoustid_fixtures, name)
        api.submit(items, length, puid=PUID)
        outcomes = api.import_pending()
        with api.dbs.read() as conns:
            found = tracks.get(conns.fingerprint, outcomes[-1].track_id or 0)
        assert found is not None
        gids.append(str(found.gid))
    response = post(api, "/v2/track/list_by_puid", {"puid": str(PUID).upper()})
    assert response.json() == {"status": "ok", "tracks": [{"id": g} for g in gids]}
    assert post(api, "/v2/track/list_by_puid", {"puid": str(UNKNOWN)}).json() == {
        "status": "ok",
        "tracks": [],
    }
    xml = xml_of(post(api, "/v2/track/list_by_puid", {"puid": str(PUID), "format": "xml"}))
    assert [t.findtext("id") for t in xml.iterfind("tracks/track")] == gids


# --- fingerprint ------------------------------------------------------------------------------

FINGERPRINT_ERRORS: list[tuple[str, list[tuple[str, str]], int, int]] = [
    ("no id", [], 400, 2),
    ("empty id", [("id", "")], 400, 2),
    ("not an int", [("id", "abc")], 400, 2),
    ("a float", [("id", "1.5")], 400, 2),
    ("too many digits to convert", [("id", "9" * 5000)], 400, 2),
    ("format first", [("format", "html")], 400, 1),
    ("zero", [("id", "0")], 404, 18),
    ("negative", [("id", "-1")], 404, 18),
    ("beyond 32 bits", [("id", str(2**40))], 404, 18),
    ("beyond 64 bits", [("id", str(2**70))], 404, 18),
    ("unknown", [("id", "424242")], 404, 18),
]


def test_fingerprint_errors(api: ApiHarness) -> None:
    for case, params, status, code in FINGERPRINT_ERRORS:
        assert error_of(post(api, "/v2/fingerprint", params))[:2] == (status, code), case
    assert error_of(post(api, "/v2/fingerprint", {"id": "7"})) == (
        404,
        18,
        "fingerprint not found",
    )
    assert error_of(post(api, "/v2/fingerprint", {})) == (
        400,
        2,
        'missing required parameter "id"',
    )


def test_fingerprint_answers_signed_items_and_duration(
    api: ApiHarness, acoustid_fixtures: Any
) -> None:
    items, length = fixture_items(acoustid_fixtures, "1A")
    api.submit(items, length, meta={"track": "x"})
    fingerprint_id = api.import_pending()[-1].fingerprint_id
    assert fingerprint_id is not None
    expected = [int(v) for v in np.asarray(items, dtype=np.uint32).view(np.int32)]
    assert any(v < 0 for v in expected)  # the signed view matters for this vector
    response = post(api, "/v2/fingerprint", [("id", f" {fingerprint_id} "), ("id", "x")])
    assert response.json() == {
        "status": "ok",
        "fingerprint": {"id": fingerprint_id, "hashes": expected, "duration": length},
    }
    xml = xml_of(post(api, "/v2/fingerprint", {"id": str(fingerprint_id), "format": "xml"}))
    # Kept quirk: the items of "hashes" are named "hashe" (reference §2, §17.9).
    assert [int(h.text or "") for h in xml.iterfind("fingerprint/hashes/hashe")] == expected
    assert xml.findtext("fingerprint/duration") == str(length)
    assert xml.findtext("fingerprint/id") == str(fingerprint_id)


# --- rate limits ------------------------------------------------------------------------------


KEYLESS: list[tuple[str, dict[str, str]]] = [
    ("/v2/track/list_by_mbid", {"mbid": str(M1)}),
    ("/v2/track/list_by_puid", {"puid": str(PUID)}),
    ("/v2/fingerprint", {"id": "1"}),
]


def test_keyless_endpoints_use_the_ip_bucket(dbs: Databases, tmp_path: Path) -> None:
    """Only the per-IP bucket is on: 0.15/s, i.e. three requests per 20 s window, shared by
    the three endpoints; validation errors come before the limiter and cost nothing."""
    h = ApiHarness(dbs, tmp_path / "index", rates=Rates(application=0, global_=0, ip=0.15))
    try:
        for path, params in KEYLESS:
            for _ in range(3):
                assert error_of(post(h, path, dict.fromkeys(params, "bad")))[0] == 400
        for path, params in KEYLESS:
            assert post(h, path, params).status_code in (200, 404), path
        for path, params in KEYLESS:
            status, code, message = error_of(post(h, path, params))
            assert (status, code) == (429, 14), path
            assert message == "rate limit (0.150000 requests per second) exceeded, try again later"
    finally:
        h.close()
