"""Hostile input to ``/v2/submit``: many suffixes, huge values, NUL and control characters,
bytes that are not UTF-8, enormous fingerprints. Nothing may end as an internal error, and what
is stored must survive the importer (PostgreSQL refuses NUL in text and long unique keys)."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import numpy as np

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db.types import as_int32
from tests.api.harness import ApiHarness
from tests.api.submit_helpers import (
    count_submissions,
    error_of,
    fingerprint,
    items,
    keys,
    one,
    post,
    post_raw,
    stored,
)

MIB = 1024 * 1024


def test_a_thousand_bare_fingerprint_suffixes_report_the_last_error(api: ApiHarness) -> None:
    # 998 + client + user = the 1000 parts allowed; every suffix lacks its duration.
    fp = fingerprint(1)
    pairs = keys(api) + [(f"fingerprint.{n}", fp) for n in range(998)]
    assert error_of(post(api, pairs)) == (400, 2, 'missing required parameter "duration.997"')


def test_more_than_a_thousand_parts_is_error_19(api: ApiHarness) -> None:
    fp = fingerprint(1)
    pairs = keys(api) + [(f"fingerprint.{n}", fp) for n in range(1000)]
    assert error_of(post(api, pairs)) == (413, 19, "request too large")
    assert count_submissions(api) == 0


def test_three_hundred_submissions_in_one_request(api: ApiHarness) -> None:
    pairs = keys(api)
    for n in range(330):
        pairs += [(f"fingerprint.{n}", fingerprint(n, 60)), (f"duration.{n}", "30")]
        pairs.append((f"track.{n}", f"t{n}"))
    body = post(api, pairs).json()
    assert [e["index"] for e in body["submissions"]] == [str(n) for n in range(330)]
    assert count_submissions(api) == 330
    last = stored(api, body["submissions"][-1]["id"])
    assert last.meta == {"track": "t329"}
    np.testing.assert_array_equal(last.fingerprint, as_int32(items(329, 60)))


def test_enormous_text_fields_are_stored_and_imported(api: ApiHarness) -> None:
    big = "ä" * (300 * 1024)  # 600 KiB of UTF-8, 1.8 MiB percent-encoded: sent raw below
    body = "&".join(
        [
            f"client={api.client_key}",
            f"user={api.user_key}",
            f"fingerprint={fingerprint(1)}",
            "duration=120",
            f"track={big}",
            f"fileformat={'F' * 100_000}",
            f"clientversion={'v' * 100_000}",
        ]
    ).encode("utf-8")
    assert len(body) < MIB
    [entry] = post_raw(api, body).json()["submissions"]
    row = stored(api, entry["id"])
    assert row.meta == {"track": big}
    # File format and client version end in unique keys: cut to 255 characters.
    assert row.format == "F" * 255
    assert row.application_version == "v" * 255
    [outcome] = api.import_pending()
    assert outcome.status == "imported"


def test_nul_and_control_characters(api: ApiHarness) -> None:
    fields = {
        "track": "a\x00b\x01c\x1fd",
        "artist": "\x00lead",
        "fileformat": "MP\x003\x07",
        "clientversion": "1.0\x00beta",
        "mbid": "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d",
    }
    [entry] = post(api, one(api, **fields)).json()["submissions"]
    row = stored(api, entry["id"])
    assert row.meta == {"track": "a b c d", "artist": "lead"}
    assert (row.format, row.application_version) == ("MP 3", "1.0 beta")
    [outcome] = api.import_pending()
    assert outcome.status == "imported"
    nul_in_uuid = one(api, mbid="b10bbbfc-cf9e-42e0-be17-e2c3e1d2600\x00")
    assert error_of(post(api, nul_in_uuid))[1] == 7
    assert error_of(post(api, one(api, fingerprint="AQAA\x00")))[1] == 3


def test_bytes_that_are_not_utf8(api: ApiHarness) -> None:
    body = b"&".join(
        [
            f"client={api.client_key}&user={api.user_key}".encode(),
            f"fingerprint={fingerprint(1)}&duration=100".encode(),
            b"track=" + quote_from_bytes(b"caf\xe9 \xff\xfe").encode(),
            b"artist=raw\xe9\xff",  # unencoded bytes in the body itself
            b"album=" + quote_from_bytes(b"\xed\xa0\x80x").encode(),  # an encoded surrogate
            quote_from_bytes(b"\xff\xfe").encode() + b"=1",  # a key that is not UTF-8
        ]
    )
    [entry] = post_raw(api, body).json()["submissions"]
    meta = stored(api, entry["id"]).meta
    assert meta is not None
    assert meta["track"].startswith("caf\ufffd")
    assert meta["artist"].startswith("raw\ufffd")
    assert "\ufffd" in meta["album"]
    assert meta["album"].endswith("x")
    [outcome] = api.import_pending()
    assert outcome.status == "imported"


def test_huge_integers_never_reach_the_database(api: ApiHarness) -> None:
    fields = {
        "bitrate": str(2**70),
        "trackno": str(2**40),
        "discno": "-" + "9" * 100,
        "year": str(2**31),
    }
    [entry] = post(api, one(api, **fields)).json()["submissions"]
    row = stored(api, entry["id"])
    assert (row.bitrate, row.meta) == (None, {"track": "Song"})
    assert error_of(post(api, one(api, duration=str(2**70))))[1] == 8


def test_an_enormous_fingerprint_within_the_body_limit(api: ApiHarness) -> None:
    # 100 000 random items: ~900 KiB of base64, far beyond any real recording.
    values = items(5, 100_000)
    text = encode_fingerprint_base64(values)
    assert MIB / 2 < len(text) < MIB - 1000
    [entry] = post(api, one(api, fingerprint=text)).json()["submissions"]
    np.testing.assert_array_equal(stored(api, entry["id"]).fingerprint, as_int32(values))
