"""``/v2/lookup`` (reference §3.1-§3.3): validation and its precedence, hostile
fingerprints, single lookups, maxdurationdiff. Batches, trackid and counting are in
test_lookup_batch.py, formats in test_lookup_formats.py.

Every test runs on SQLite and PostgreSQL (the ``api`` fixture).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import tracks
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import (
    Song,
    error_of,
    load_songs,
    lookup_counts,
    ok,
    post,
    raw_fingerprint,
)
from tests.importer.harness import fixture_items


@pytest.fixture(scope="module")
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


# Validation: every rule, in the reference's order.

VALID = "$fp"  # replaced by a valid fingerprint
CLIENT = "$client"

# (case, params, (HTTP status, code, message))
ERRORS: list[tuple[str, list[tuple[str, str]], tuple[int, int, str]]] = [
    (
        "format first",
        [("format", "yaml"), ("maxdurationdiff", "99")],
        (400, 1, 'unknown format "yaml"'),
    ),
    (
        "no client",
        [("fingerprint", VALID), ("duration", "118")],
        (400, 2, 'missing required parameter "client"'),
    ),
    (
        "empty client",
        [("client", ""), ("fingerprint", VALID)],
        (400, 2, 'missing required parameter "client"'),
    ),
    ("unknown client", [("client", "nope"), ("maxdurationdiff", "0")], (400, 4, "invalid API key")),
    (
        "client before maxdurationdiff",
        [("client", "nope"), ("maxdurationdiff", "31"), ("fingerprint", "!!")],
        (400, 4, "invalid API key"),
    ),
    (
        "maxdurationdiff 0",
        [("client", CLIENT), ("maxdurationdiff", "0"), ("fingerprint", VALID), ("duration", "118")],
        (400, 11, 'parameter "maxdurationdiff" must be between 1 and 30'),
    ),
    (
        "maxdurationdiff 31",
        [
            ("client", CLIENT),
            ("maxdurationdiff", "31"),
            ("fingerprint", VALID),
            ("duration", "118"),
        ],
        (400, 11, 'parameter "maxdurationdiff" must be between 1 and 30'),
    ),
    (
        "maxdurationdiff negative",
        [
            ("client", CLIENT),
            ("maxdurationdiff", "-3"),
            ("fingerprint", VALID),
            ("duration", "118"),
        ],
        (400, 11, 'parameter "maxdurationdiff" must be between 1 and 30'),
    ),
    (
        "maxdurationdiff before the queries",
        [("client", CLIENT), ("maxdurationdiff", "40"), ("fingerprint", "!!")],
        (400, 11, 'parameter "maxdurationdiff" must be between 1 and 30'),
    ),
    (
        "non-integer maxdurationdiff is absent",
        [("client", CLIENT), ("maxdurationdiff", "5.5")],
        (400, 2, 'missing required parameter "fingerprint"'),
    ),
    ("no query", [("client", CLIENT)], (400, 2, 'missing required parameter "fingerprint"')),
    (
        "only durations",
        [("client", CLIENT), ("duration", "118"), ("duration.0", "118")],
        (400, 2, 'missing required parameter "fingerprint"'),
    ),
    (
        "not a suffix",
        [("client", CLIENT), ("fingerprint.x", VALID), ("fingerprintx", VALID), ("duration", "1")],
        (400, 2, 'missing required parameter "fingerprint"'),
    ),
    (
        "missing duration",
        [("client", CLIENT), ("fingerprint", VALID)],
        (400, 2, 'missing required parameter "duration"'),
    ),
    (
        "zero duration",
        [("client", CLIENT), ("fingerprint", VALID), ("duration", "0")],
        (400, 2, 'missing required parameter "duration"'),
    ),
    (
        "fractional duration",
        [("client", CLIENT), ("fingerprint", VALID), ("duration", "641.5")],
        (400, 2, 'missing required parameter "duration"'),
    ),
    (
        "text duration",
        [("client", CLIENT), ("fingerprint", VALID), ("duration", "long")],
        (400, 2, 'missing required parameter "duration"'),
    ),
    (
        "duration before fingerprint",
        [("client", CLIENT), ("fingerprint", "!!"), ("duration", "")],
        (400, 2, 'missing required parameter "duration"'),
    ),
    (
        "suffixed duration is named",
        [("client", CLIENT), ("fingerprint.3", VALID), ("duration", "118")],
        (400, 2, 'missing required parameter "duration.3"'),
    ),
    (
        "empty fingerprint",
        [("client", CLIENT), ("fingerprint", ""), ("duration", "118")],
        (400, 3, "invalid fingerprint"),
    ),
    (
        "trackid empty, no fingerprint",
        [("client", CLIENT), ("trackid", ""), ("duration", "118")],
        (400, 2, 'missing required parameter "fingerprint"'),
    ),
    (
        "bad trackid",
        [("client", CLIENT), ("trackid", "not-a-uuid")],
        (400, 7, 'parameter "trackid" is not a valid UUID'),
    ),
    (
        "bad suffixed trackid",
        [("client", CLIENT), ("trackid.7", "5f7a5a6e0b0b4c6b8f6e111111111111")],
        (400, 7, 'parameter "trackid.7" is not a valid UUID'),
    ),
    (
        "bad trackid wins over a good fingerprint",
        [("client", CLIENT), ("trackid", "x"), ("fingerprint", VALID), ("duration", "118")],
        (400, 7, 'parameter "trackid" is not a valid UUID'),
    ),
    (
        "the last suffix's error when nothing parsed",
        [
            ("client", CLIENT),
            ("fingerprint.0", VALID),  # no duration.0
            ("fingerprint.1", "AQAA"),
            ("duration.1", "118"),
            ("batch", "1"),
        ],
        (400, 3, "invalid fingerprint"),
    ),
    (
        "the last suffix's error without batch",
        [("client", CLIENT), ("fingerprint", "!!"), ("trackid.2", "nope"), ("duration", "9")],
        (400, 7, 'parameter "trackid.2" is not a valid UUID'),
    ),
]


def _fill(params: list[tuple[str, str]], api: ApiHarness, text: str) -> list[tuple[str, str]]:
    values = {VALID: text, CLIENT: api.client_key}
    return [(k, values.get(v, v)) for k, v in params]


@pytest.mark.parametrize(("case", "params", "expected"), ERRORS, ids=[e[0] for e in ERRORS])
def test_validation_errors(
    api: ApiHarness,
    songs: dict[str, Song],
    case: str,
    params: list[tuple[str, str]],
    expected: tuple[int, int, str],
) -> None:
    response = post(api, _fill(params, api, songs["breeze"].text))
    assert error_of(response) == expected, case
    # Validation errors are never counted as lookups.
    assert lookup_counts(api) == (0, 0)


def _hostile(songs: dict[str, Song]) -> dict[str, str]:
    items = songs["breeze"].items
    return {
        "garbage base64": "!!not*base64!!",
        "spaces": "AQAD tEunJEpI",
        "non-ASCII": "AQADtEunJEpIVNbwa\u00e9",
        "header only, truncated": "AQAA",
        "zero items": raw_fingerprint(b"\x01\x00\x00\x00"),
        "zero items with trailing bytes": raw_fingerprint(b"\x01\x00\x00\x00" + b"\xff" * 40),
        "16 million items claimed": raw_fingerprint(b"\x01\xff\xff\xff" + b"\x00" * 64),
        "count beyond the body": raw_fingerprint(b"\x01\x00\x10\x00" + b"\x49" * 200),
        "algorithm 2": encode_fingerprint_base64(items, algorithm=2),
        "algorithm 0": encode_fingerprint_base64(items, algorithm=0),
        "truncated": songs["breeze"].text[:40],
        "lone final character": songs["breeze"].text[:41]
        + "A" * (1 - len(songs["breeze"].text[:41]) % 4 + 4),
        "bad padding": songs["breeze"].text + "===",
    }


HOSTILE = [
    "garbage base64",
    "spaces",
    "non-ASCII",
    "header only, truncated",
    "zero items",
    "zero items with trailing bytes",
    "16 million items claimed",
    "count beyond the body",
    "algorithm 2",
    "algorithm 0",
    "truncated",
    "bad padding",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_fingerprints_are_error_3(
    api: ApiHarness, songs: dict[str, Song], name: str
) -> None:
    text = _hostile(songs)[name]
    response = post(api, {"client": api.client_key, "fingerprint": text, "duration": "118"})
    assert error_of(response) == (400, 3, "invalid fingerprint")


def test_hostile_fingerprints_are_swallowed_in_a_batch(
    api: ApiHarness, songs: dict[str, Song]
) -> None:
    gid = api.add_track(songs["breeze"].items, songs["breeze"].length)
    params: list[tuple[str, Any]] = [("client", api.client_key), ("batch", "1")]
    for i, name in enumerate(HOSTILE):
        params += [(f"fingerprint.{i}", _hostile(songs)[name]), (f"duration.{i}", "118")]
    last = len(HOSTILE)
    params += [(f"fingerprint.{last}", songs["breeze"].text), (f"duration.{last}", "118")]
    body = ok(api, params)
    assert [f["index"] for f in body["fingerprints"]] == [last]
    assert [r["id"] for r in body["fingerprints"][0]["results"]] == [str(gid)]


def test_a_huge_valid_fingerprint_is_answered(api: ApiHarness, songs: dict[str, Song]) -> None:
    """A real fingerprint repeated 150 times (142 200 items, about 5 hours of audio, in the
    1 MiB body), with the stored track's duration so that it is compared in full. (How fast:
    a benchmark's question, not the suite's.)"""
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    text = encode_fingerprint_base64(np.tile(breeze.items, 150))
    body = ok(api, {"client": api.client_key, "fingerprint": text, "duration": breeze.length})
    assert {r["id"] for r in body["results"]} <= {str(gid)}


def test_a_huge_duration_is_no_error(api: ApiHarness, songs: dict[str, Song]) -> None:
    api.add_track(songs["breeze"].items, songs["breeze"].length)
    for duration in ("9" * 40, "-" + "9" * 40, "2147483647", "-2147483648"):
        body = ok(
            api,
            {"client": api.client_key, "fingerprint": songs["breeze"].text, "duration": duration},
        )
        assert body["results"] == [], duration


# Single lookups.


def test_exact_and_distorted_fingerprints_find_their_track(
    api: ApiHarness, songs: dict[str, Song]
) -> None:
    night = songs["night"]
    gid = api.add_track(night.items, night.length)
    api.add_track(songs["breeze"].items, songs["breeze"].length)
    exact = ok(api, {"client": api.client_key, "fingerprint": night.text, "duration": night.length})
    assert exact == {"status": "ok", "results": [{"id": str(gid), "score": 1.0}]}
    distorted = songs["night_mp3"]
    fuzzy = ok(
        api, {"client": api.client_key, "fingerprint": distorted.text, "duration": night.length}
    )
    [result] = fuzzy["results"]
    assert result["id"] == str(gid)
    assert 0.4 < result["score"] < 1.0
    # Six significant digits, as AcoustID's float4 column reads back.
    assert result["score"] == float(f"{result['score']:.6g}")


def test_no_match_is_an_empty_list(api: ApiHarness, songs: dict[str, Song]) -> None:
    api.add_track(songs["breeze"].items, songs["breeze"].length)
    boss = songs["boss"]
    body = ok(api, {"client": api.client_key, "fingerprint": boss.text, "duration": boss.length})
    assert body == {"status": "ok", "results": []}


def test_a_negative_duration_is_accepted(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    api.add_track(breeze.items, breeze.length)
    body = ok(api, {"client": api.client_key, "fingerprint": breeze.text, "duration": "-5"})
    assert body == {"status": "ok", "results": []}


def test_results_are_deduplicated_by_track_keeping_the_best(
    api: ApiHarness, acoustid_fixtures: Any
) -> None:
    """Two fingerprints of one track (the reference's 1A and 1C, compare2 0.853: one track, two
    fingerprints) give one result, with the best score."""
    items_a, length = fixture_items(acoustid_fixtures, "1A")
    items_c, _ = fixture_items(acoustid_fixtures, "1C")
    gid = api.add_track(items_a, length)
    assert api.add_track(items_c, length) == gid
    with api.dbs.read() as conns:
        found = tracks.get_by_gid(conns.fingerprint, gid)
        assert found is not None
        assert len(tracks.fingerprint_ids(conns.fingerprint, found.id)) == 2
    for name, score in (("1A", 1.0), ("1C", 1.0), ("1B", 0.929099)):
        items, _ = fixture_items(acoustid_fixtures, name)
        text = encode_fingerprint_base64(items)
        body = ok(api, {"client": api.client_key, "fingerprint": text, "duration": length})
        assert body["results"] == [{"id": str(gid), "score": score}], name


@pytest.mark.parametrize(
    ("offset", "maxdurationdiff", "found"),
    [
        (7, None, True),
        (8, None, False),
        (-8, None, False),
        (10, "10", True),
        (-10, "10", True),
        (10, "9", False),
        (30, "30", True),
        (31, "30", False),
        (8, "x", False),  # not an integer: the default 7
        (1, "1", True),
        (2, "1", False),
    ],
)
def test_maxdurationdiff(
    api: ApiHarness, songs: dict[str, Song], offset: int, maxdurationdiff: str | None, found: bool
) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    params = {
        "client": api.client_key,
        "fingerprint": breeze.text,
        "duration": breeze.length + offset,
    }
    if maxdurationdiff is not None:
        params["maxdurationdiff"] = maxdurationdiff
    body = ok(api, params)
    assert body["results"] == ([{"id": str(gid), "score": 1.0}] if found else [])


def test_without_batch_only_the_first_parsed_query_is_used(
    api: ApiHarness, songs: dict[str, Song]
) -> None:
    breeze, boss = songs["breeze"], songs["boss"]
    gid_breeze = api.add_track(breeze.items, breeze.length)
    gid_boss = api.add_track(boss.items, boss.length)
    params = [
        ("client", api.client_key),
        ("fingerprint.1", boss.text),
        ("duration.1", boss.length),
        ("fingerprint.0", breeze.text),
        ("duration.0", breeze.length),
    ]
    assert ok(api, params)["results"] == [{"id": str(gid_breeze), "score": 1.0}]
    # A query that does not parse is skipped: the next one answers.
    params[4] = ("duration.0", "0")
    assert ok(api, params)["results"] == [{"id": str(gid_boss), "score": 1.0}]
    # ... and so are the queries beyond the limits (25 fingerprints, only one is used).
    many: list[tuple[str, Any]] = [("client", api.client_key)]
    for i in range(25):
        many += [(f"fingerprint.{i}", breeze.text), (f"duration.{i}", breeze.length)]
    assert ok(api, many)["results"] == [{"id": str(gid_breeze), "score": 1.0}]
