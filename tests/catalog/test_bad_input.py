"""Hostile and malformed input: each a 400 (413 for a large body) naming the parameter, in the
error envelope, never a 500 and never a stack trace."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.catalog.conftest import services_of

GOOD_MBID = "7853bd8c-2141-4b4d-9f62-578bab214ab9"


def _assert_bad(answer: object, name: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["status"] == "error"
    assert f'"{name}"' in body["error"]["message"] or name in body["error"]["message"]
    assert "Traceback" not in answer.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "isrc",
    [
        "GBAYE640000",
        "GBAYE64000000",
        "G1AYE6400000",
        "GBAYE6A00000",
        "GB-AYE-64-0000!",
        "ÄBAYE6400000",
        "GBAYE64%000001",
        "%00",
    ],
)
def test_malformed_isrcs(client: TestClient, isrc: str) -> None:
    _assert_bad(client.get(f"/lookup/isrc/{isrc}"), "isrc")


@pytest.mark.parametrize(
    "mbid",
    [
        "not-a-uuid",
        "7853bd8c-2141-4b4d-9f62-578bab214ab",
        "7853bd8c21414b4d9f62578bab214ab9z",
        "{7853bd8c-2141-4b4d-9f62-578bab214ab9}",
        "urn:uuid:7853bd8c-2141-4b4d-9f62-578bab214ab9",
        "' OR 1=1 --",
        "%00",
        "ÿ" * 36,
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/lookup/track/{}",
        "/lookup/recording/{}",
        "/lookup/album/{}",
        "/lookup/album/{}/tracks",
        "/lookup/release-group/{}",
        "/lookup/artist/{}",
    ],
)
def test_mbids_that_are_not_uuids(client: TestClient, path: str, mbid: str) -> None:
    _assert_bad(client.get(path.format(mbid)), "id")


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13"


@pytest.mark.parametrize("upc", ["12345678901a", "0123-4567", FULL_WIDTH_DIGITS, "1" * 33, "-1"])
def test_barcodes_with_non_digits(client: TestClient, upc: str) -> None:
    _assert_bad(client.get(f"/lookup/barcode/{upc}"), "upc")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "a"}, "q"),
        ({"q": " a "}, "q"),
        ({"q": "!!"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "moon", "limit": "0"}, "limit"),
        ({"q": "moon", "limit": "101"}, "limit"),
        ({"q": "moon", "limit": "-5"}, "limit"),
        ({"q": "moon", "limit": "ten"}, "limit"),
        ({"q": "moon", "limit": "1e2"}, "limit"),
        ({"q": "moon", "limit": "٣"}, "limit"),
        ({"q": "moon", "offset": "-1"}, "offset"),
        ({"q": "moon", "offset": "99999999999"}, "offset"),
    ],
)
@pytest.mark.parametrize("kind", ["track", "album", "artist"])
def test_search_parameters(
    client: TestClient, kind: str, params: dict[str, str], name: str
) -> None:
    _assert_bad(client.get(f"/search/{kind}", params=params), name)


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"tracks": [GOOD_MBID] * 401}, "batch"),
        ({"tracks": [GOOD_MBID] * 200, "isrcs": ["GBAYE6400001"] * 201}, "batch"),
        ({"tracks": GOOD_MBID}, "tracks"),
        ({"albums": {"id": GOOD_MBID}}, "albums"),
        ({"artists": [7]}, "artists[0]"),
        ({"recordings": [GOOD_MBID, "nope"]}, "recordings[1]"),
        ({"isrcs": ["GBAYE640000"]}, "isrcs[0]"),
        ({"labels": [GOOD_MBID]}, "labels"),
        ({}, "batch"),
        ({"tracks": []}, "batch"),
    ],
)
def test_batch_bodies(client: TestClient, body: object, name: str) -> None:
    _assert_bad(client.post("/batch/lookup", json=body), name)


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b'"tracks"', b'{"tracks": [', b"\xff\xfe{}", b"null"]
)
def test_batch_bodies_that_are_not_a_json_object(client: TestClient, raw: bytes) -> None:
    answer = client.post("/batch/lookup", content=raw)
    assert answer.status_code == 400
    assert "request body" in answer.json()["error"]["message"]


def test_a_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    limit = services_of(client).config.max_body
    big = json.dumps({"tracks": [GOOD_MBID], "pad": "x" * limit}).encode()
    _assert_bad(client.post("/batch/lookup", content=big), str(limit), 413)

    # Without a Content-Length (chunked): counted while it arrives.
    def chunks() -> object:
        yield b'{"tracks": ["' + b"x" * (limit // 2)
        yield b"x" * (limit // 2 + 10) + b'"]}'

    answer = client.post("/batch/lookup", content=chunks())
    assert answer.status_code == 413


def test_unknown_paths_and_methods_get_the_envelope(client: TestClient) -> None:
    answer = client.get("/lookup/nothing/here")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == 21
    wrong = client.post("/lookup/isrc/GBAYE6400001")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == "error"
