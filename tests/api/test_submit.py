"""``/v2/submit`` parameters (reference §4.1): every rule and error code, and their precedence."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.api.harness import ApiHarness
from tests.api.submit_helpers import (
    count_submissions,
    error_of,
    fingerprint,
    items,
    keys,
    one,
    post,
)

MBID = "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d"
PUID = "6d7b7cd4-254b-4c25-83f6-dd20f98ceacd"
V2_FP = encode_fingerprint_base64(items(7), algorithm=2)
EMPTY_FP = encode_fingerprint_base64([])


def msg_missing(name: str) -> str:
    return f'missing required parameter "{name}"'


def msg_uuid(name: str) -> str:
    return f'parameter "{name}" is not a valid UUID'


def msg_positive(name: str) -> str:
    return f'parameter "{name}" must be a positive integer'


def msg_foreignid(name: str) -> str:
    return f'parameter "{name}" is not a valid foreign ID, it must be in the format vendor:id'


# (case, fields changed on one unsuffixed submission, code, message)
FIELD_ERRORS: list[tuple[str, dict[str, Any], int, str]] = [
    ("puid invalid", {"puid": "nope"}, 7, msg_uuid("puid")),
    ("foreignid without vendor", {"foreignid": "abc"}, 10, msg_foreignid("foreignid")),
    ("foreignid upper-case vendor", {"foreignid": "Spotify:x"}, 10, msg_foreignid("foreignid")),
    ("foreignid empty id", {"foreignid": "spotify:"}, 10, msg_foreignid("foreignid")),
    ("foreignid two lines", {"foreignid": "a:b\nc"}, 10, msg_foreignid("foreignid")),
    ("foreignid NUL", {"foreignid": "a:b\x00c"}, 10, msg_foreignid("foreignid")),
    ("foreignid too long", {"foreignid": "a:" + "x" * 300}, 10, msg_foreignid("foreignid")),
    ("mbid invalid", {"mbid": "not-a-uuid"}, 7, msg_uuid("mbid")),
    ("mbid empty", {"mbid": ""}, 7, msg_uuid("mbid")),
    ("duration missing", {"duration": None}, 2, msg_missing("duration")),
    ("duration empty", {"duration": ""}, 2, msg_missing("duration")),
    ("duration float", {"duration": "641.5"}, 2, msg_missing("duration")),
    ("duration text", {"duration": "long"}, 2, msg_missing("duration")),
    ("duration zero", {"duration": "0"}, 8, msg_positive("duration")),
    ("duration negative", {"duration": "-5"}, 8, msg_positive("duration")),
    ("duration 32768", {"duration": "32768"}, 8, msg_positive("duration")),
    ("duration 10**40", {"duration": "1" + "0" * 40}, 8, msg_positive("duration")),
    ("duration 5000 digits", {"duration": "9" * 5000}, 8, msg_positive("duration")),
    ("duration -5000 digits", {"duration": "-" + "9" * 5000}, 8, msg_positive("duration")),
    ("fingerprint empty", {"fingerprint": ""}, 2, msg_missing("fingerprint")),
    ("fingerprint garbage", {"fingerprint": "!!!not base64!!!"}, 3, "invalid fingerprint"),
    ("fingerprint truncated", {"fingerprint": fingerprint(1)[:20]}, 3, "invalid fingerprint"),
    ("fingerprint no items", {"fingerprint": EMPTY_FP}, 3, "invalid fingerprint"),
    ("fingerprint version 2", {"fingerprint": V2_FP}, 3, "invalid fingerprint"),
    ("fingerprint non-ascii", {"fingerprint": "AQAAé"}, 3, "invalid fingerprint"),
    ("bitrate negative", {"bitrate": "-128"}, 9, msg_positive("bitrate")),
    ("bitrate hugely negative", {"bitrate": "-" + "9" * 5000}, 9, msg_positive("bitrate")),
]


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [pytest.param(f, c, m, id=case) for case, f, c, m in FIELD_ERRORS],
)
def test_field_errors(api: ApiHarness, fields: dict[str, Any], code: int, message: str) -> None:
    assert error_of(post(api, one(api, **fields))) == (400, code, message)
    assert count_submissions(api) == 0


# Two faults in one submission: the first in the reference's order wins
# (puid, foreignid, mbid, duration, fingerprint, bitrate).
PRECEDENCE: list[tuple[str, dict[str, Any], int, str]] = [
    ("puid before foreignid", {"puid": "x", "foreignid": "x"}, 7, msg_uuid("puid")),
    ("foreignid before mbid", {"foreignid": "x", "mbid": "x"}, 10, msg_foreignid("foreignid")),
    ("mbid before duration", {"mbid": "x", "duration": None}, 7, msg_uuid("mbid")),
    (
        "duration before fingerprint",
        {"duration": "0", "fingerprint": "x"},
        8,
        msg_positive("duration"),
    ),
    (
        "missing duration before fp",
        {"duration": None, "fingerprint": ""},
        2,
        msg_missing("duration"),
    ),
    ("fingerprint before bitrate", {"fingerprint": "@", "bitrate": "-1"}, 3, "invalid fingerprint"),
    (
        "missing fp before bitrate",
        {"fingerprint": "", "bitrate": "-1"},
        2,
        msg_missing("fingerprint"),
    ),
]


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [pytest.param(f, c, m, id=case) for case, f, c, m in PRECEDENCE],
)
def test_validation_order(api: ApiHarness, fields: dict[str, Any], code: int, message: str) -> None:
    assert error_of(post(api, one(api, **fields))) == (400, code, message)


def test_request_level_errors_come_first(api: ApiHarness) -> None:
    fp = [("fingerprint", "@"), ("duration", "0")]  # itself an error: never reached
    cases: list[tuple[list[tuple[str, Any]], tuple[int, int, str]]] = [
        ([("format", "yaml"), *fp], (400, 1, 'unknown format "yaml"')),
        (fp, (400, 2, msg_missing("client"))),
        ([("client", "bogus"), *fp], (400, 4, "invalid API key")),
        ([("client", api.client_key), *fp], (400, 2, msg_missing("user"))),
        ([("client", api.client_key), ("user", ""), *fp], (400, 2, msg_missing("user"))),
        (
            [("client", api.client_key), ("user", "bogus"), *fp],
            (400, 6, 'invalid user API key ("User with the API key does not exist")'),
        ),
        (keys(api), (400, 2, msg_missing("fingerprint"))),
        # Only fingerprint keys make a submission: the rest alone is "no fingerprint".
        (
            [*keys(api), ("duration.0", "120"), ("mbid.0", MBID)],
            (400, 2, msg_missing("fingerprint")),
        ),
    ]
    for pairs, expected in cases:
        assert error_of(post(api, pairs)) == expected, pairs


def test_the_user_key_of_an_application_is_not_a_user_key(api: ApiHarness) -> None:
    pairs = [("client", api.client_key), ("user", api.client_key), *one(api)[2:]]
    assert error_of(post(api, pairs))[1] == 6


def test_suffixed_errors_name_the_suffix(api: ApiHarness) -> None:
    base = [*keys(api), ("fingerprint.3", fingerprint(1)), ("duration.3", "120")]
    cases: list[tuple[tuple[str, str], int, str]] = [
        (("puid.3", "x"), 7, msg_uuid("puid.3")),
        (("foreignid.3", "x"), 10, msg_foreignid("foreignid.3")),
        (("mbid.3", "x"), 7, msg_uuid("mbid.3")),
        (("bitrate.3", "-1"), 9, msg_positive("bitrate.3")),
    ]
    for extra, code, message in cases:
        assert error_of(post(api, [*base, extra])) == (400, code, message)
    no_duration = [*keys(api), ("fingerprint.3", fingerprint(1))]
    assert error_of(post(api, no_duration)) == (400, 2, msg_missing("duration.3"))
    bad = [*keys(api), ("fingerprint.3", fingerprint(1)), ("duration.3", "99999")]
    assert error_of(post(api, bad)) == (400, 8, msg_positive("duration.3"))


def test_one_bad_mbid_among_good_ones_is_error_7(api: ApiHarness) -> None:
    pairs = [*one(api), ("mbid", MBID), ("mbid", "bad"), ("mbid", str(uuid.uuid4()))]
    assert error_of(post(api, pairs)) == (400, 7, msg_uuid("mbid"))


# Suffix rules (§3.1, §17 quirk 3): a failing suffix is dropped unless it is the last one and
# nothing before it parsed.


def _suffix(n: int | None, seed: int, **fields: Any) -> list[tuple[str, Any]]:
    values: dict[str, Any] = {"fingerprint": fingerprint(seed), "duration": 100, "track": "t"}
    values.update(fields)
    sfx = "" if n is None else f".{n}"
    return [(k + sfx, v) for k, v in values.items() if v is not None]


SUFFIX_CASES: list[tuple[str, list[tuple[int | None, dict[str, Any]]], Any]] = [
    ("bad first, good last", [(0, {"duration": "x"}), (1, {})], ["1"]),
    ("good first, bad last", [(0, {}), (1, {"duration": "x"})], ["0"]),
    ("bad middle", [(0, {}), (1, {"puid": "x"}), (2, {})], ["0", "2"]),
    ("all bad: the last error", [(0, {"puid": "x"}), (1, {"mbid": "y"})], (7, msg_uuid("mbid.1"))),
    ("unsuffixed first", [(None, {}), (0, {})], [None, "0"]),
    (
        "unsuffixed bad, suffixed bad",
        [(None, {"bitrate": "-1"}), (0, {"fingerprint": "@"})],
        (3, "invalid fingerprint"),
    ),
    ("numeric order", [(10, {}), (2, {}), (9, {})], ["2", "9", "10"]),
    ("gaps are fine", [(5, {}), (500, {})], ["5", "500"]),
]


@pytest.mark.parametrize(
    ("parts", "expected"), [pytest.param(p, e, id=case) for case, p, e in SUFFIX_CASES]
)
def test_suffix_rules(
    api: ApiHarness, parts: list[tuple[int | None, dict[str, Any]]], expected: Any
) -> None:
    pairs = keys(api)
    for seed, (n, fields) in enumerate(parts):
        pairs += _suffix(n, seed, **fields)
    response = post(api, pairs)
    if isinstance(expected, tuple):
        assert error_of(response)[1:] == expected
        assert count_submissions(api) == 0
        return
    body = response.json()
    assert body["status"] == "ok", body
    assert [s.get("index") for s in body["submissions"]] == expected
    assert count_submissions(api) == len(expected)


def test_leading_zeros_in_a_suffix_name_its_number(api: ApiHarness) -> None:
    # "fingerprint.007" is suffix 7, whose fields are looked up as "duration.7" and
    # "fingerprint.7": a zero-padded suffix never works (as in the reference).
    pairs = [*keys(api), ("fingerprint.007", fingerprint(1)), ("duration.007", "100")]
    assert error_of(post(api, pairs)) == (400, 2, msg_missing("duration.7"))
    pairs.append(("duration.7", "100"))
    assert error_of(post(api, pairs)) == (400, 2, msg_missing("fingerprint.7"))


@pytest.mark.parametrize(
    "key", ["fingerprint.²", "fingerprint." + "9" * 5000, "fingerprint.-1", "fingerprint.x"]
)
def test_keys_that_are_no_suffix_are_ignored(api: ApiHarness, key: str) -> None:
    # "²" passes str.isdigit() but not int(); 5000 digits are over Python's conversion limit.
    response = post(api, [*keys(api), (key, fingerprint(1)), ("duration", "100")])
    assert error_of(response) == (400, 2, msg_missing("fingerprint"))
    ok = post(api, [*one(api), (key, fingerprint(2))]).json()
    assert ok["status"] == "ok"
    assert len(ok["submissions"]) == 1
    assert "index" not in ok["submissions"][0]


# Values that are not errors.

IGNORED: list[tuple[str, dict[str, Any]]] = [
    ("bitrate zero", {"bitrate": "0"}),
    ("bitrate text", {"bitrate": "fast"}),
    ("bitrate float", {"bitrate": "128.5"}),
    ("bitrate over smallint", {"bitrate": "40000"}),
    ("bitrate 5000 digits", {"bitrate": "9" * 5000}),
    ("puid empty", {"puid": ""}),
    ("foreignid empty", {"foreignid": ""}),
    ("trackno text", {"trackno": "two"}),
    ("year float", {"year": "1999.5"}),
    ("discno huge", {"discno": "9" * 5000}),
    ("year over int4", {"year": str(2**31)}),
    ("duration with spaces", {"duration": " 120 "}),
    ("duration with plus", {"duration": "+120"}),
    ("duration 32767", {"duration": "32767"}),
    ("uppercase mbid", {"mbid": MBID.upper()}),
    ("uppercase puid", {"puid": PUID.upper()}),
    ("standard base64 padding", {"fingerprint": fingerprint(3) + "=" * (-len(fingerprint(3)) % 4)}),
]


@pytest.mark.parametrize("fields", [pytest.param(f, id=case) for case, f in IGNORED])
def test_accepted_values(api: ApiHarness, fields: dict[str, Any]) -> None:
    body = post(api, one(api, **fields)).json()
    assert body["status"] == "ok", body
    assert len(body["submissions"]) == 1
