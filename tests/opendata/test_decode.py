"""The daily files' encodings and the hostile inputs of the readers (no database)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator

import pytest

from earmark.opendata import decode
from earmark.opendata.decode import DataFileError, iter_objects
from earmark.opendata.layout import LayoutError, parse_file_name, parse_listing
from earmark.opendata.rows import RowError, parse_row
from earmark.opendata.source import check_url
from tests.opendata.files import encode

ROWS = [
    {"id": 1, "track": 'say "hi" \\ there', "artist": "Café Ünïcode", "year": 2011},
    {"id": 2, "track": "tab\there", "album": "\u2603 snow"},
    {"id": 3, "track": "plain"},
]
OLD = dt.date(2024, 12, 3)
NEW = dt.date(2024, 12, 10)


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("encoding", ["plain", "escaped", "unseparated"])
@pytest.mark.parametrize("day", [OLD, NEW])
def test_every_encoding_reads_the_same_rows(encoding: str, day: dt.date) -> None:
    """Detected per file by its backslashes, whatever the date; read in tiny pieces so that
    escapes, objects and UTF-8 sequences are split across chunks."""
    data = gzip.compress(encode(ROWS, encoding))
    assert list(iter_objects(pieces(data, 7), "f", day)) == ROWS
    assert list(iter_objects([data], "f", None)) == ROWS


def test_a_file_without_backslashes_reads_the_same_either_way() -> None:
    rows = [{"id": 1, "fingerprint": [1, -2, 3]}]
    data = gzip.compress(encode(rows, "escaped"))
    assert list(iter_objects([data], "f", NEW)) == rows


def test_truncated_gzip_is_refused() -> None:
    data = gzip.compress(encode(ROWS * 50, "plain"))
    with pytest.raises(DataFileError, match="truncated gzip"):
        list(iter_objects([data[: len(data) // 2]], "x.jsonl.gz", NEW))


def test_not_gzip_is_refused() -> None:
    with pytest.raises(DataFileError, match="not a valid gzip"):
        list(iter_objects([b"this is not gzip at all"], "x", NEW))


def test_a_line_that_is_not_json_is_refused_with_its_place() -> None:
    text = encode(ROWS[:1], "plain") + b"{not json}\n" + encode(ROWS[1:], "plain")
    with pytest.raises(DataFileError, match=r"not JSON at character \d+"):
        list(iter_objects([gzip.compress(text)], "x", NEW))
    with pytest.raises(DataFileError, match="not JSON"):
        list(iter_objects([gzip.compress(b'{"id": 1}\n{"id": ')], "x", NEW))
    with pytest.raises(DataFileError, match="not a JSON object"):
        list(iter_objects([gzip.compress(b"[1, 2]\n")], "x", NEW))
    with pytest.raises(DataFileError, match="not UTF-8"):
        list(iter_objects([gzip.compress(b'{"id": "\xff"}\n')], "x", NEW))


def test_a_huge_row_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "MAX_ROW_CHARS", 1000)
    huge = json.dumps({"id": 1, "track": "x" * 5000}).encode()
    with pytest.raises(DataFileError, match="longer than 1000"):
        list(iter_objects(pieces(gzip.compress(huge), 100), "x", NEW))


def test_a_gzip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = gzip.compress(b" " * (4 << 20))
    with pytest.raises(DataFileError, match="decompresses to more than"):
        list(decode.gunzip([bomb], "x", limit=1 << 20))


@pytest.mark.parametrize(
    ("stream", "raw", "message"),
    [
        ("fingerprint", {"id": 1, "fingerprint": [1, 2**31], "length": 9}, "outside int32"),
        ("fingerprint", {"id": 1, "fingerprint": [1, -(2**31) - 1], "length": 9}, "int32"),
        ("fingerprint", {"id": 1, "fingerprint": [1, 10**30], "length": 9}, "int32"),
        ("fingerprint", {"id": 1, "fingerprint": [1, "2"], "length": 9}, "not an integer"),
        ("fingerprint", {"id": 1, "fingerprint": [], "length": 9}, "non-empty"),
        ("fingerprint", {"id": 1, "fingerprint": [1], "length": 0}, "length"),
        ("track", {"id": 1, "gid": "not-a-uuid"}, "not a UUID"),
        ("track", {"id": True, "gid": "00000000-0000-0000-0000-000000000001"}, "integer"),
        ("track", {"gid": "00000000-0000-0000-0000-000000000001"}, "id is missing"),
        ("track", {"id": 2**31, "gid": "00000000-0000-0000-0000-000000000001"}, "range"),
        ("track_mbid", {"id": 1, "track_id": 1, "mbid": "x"}, "not a UUID"),
        (
            "track_mbid",
            {
                "id": 1,
                "track_id": 1,
                "mbid": "00000000-0000-0000-0000-000000000001",
                "disabled": "yes",
            },
            "boolean",
        ),
        ("meta", {"id": 1, "created": "yesterday"}, "timestamp"),
        ("track_meta", {"id": 1, "track_id": 1, "meta_id": -3}, "range"),
    ],
)
def test_rows_breaking_the_types_are_row_errors(stream: str, raw: dict, message: str) -> None:
    with pytest.raises(RowError, match=message):
        parse_row(stream, raw)


def test_missing_keys_are_nulls_and_disabled_defaults_to_false() -> None:
    row = parse_row(
        "track_mbid", {"id": 7, "track_id": 3, "mbid": "00000000-0000-0000-0000-000000000001"}
    )
    assert row.values["disabled"] is False
    assert row.values["submission_count"] == 0
    assert row.values["created"] is None


def test_file_names_and_bad_dates() -> None:
    found = parse_file_name("2024-12-05-track_mbid-update.jsonl.gz")
    assert found is not None
    assert (found.day, found.stream) == (dt.date(2024, 12, 5), "track_mbid")
    assert parse_file_name("index.html") is None
    assert parse_file_name("2024-12-05-unknown-update.jsonl.gz") is None
    with pytest.raises(LayoutError, match="not a date"):
        parse_file_name("2024-02-30-track-update.jsonl.gz")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"name": "../etc"}]', "outside"),
        (b'[{"name": "2024/../../x"}]', "outside"),
        (b'[{"name": ".."}]', "outside"),
        (b'[{"name": "a\\\\b"}]', "outside"),
        (b'[{"size": 3}]', "without a name"),
        (b'{"name": "2024"}', "not a list"),
        (b"<html>", "not JSON"),
        (b"[" + b" " * (2 << 20) + b"]", "larger than"),
    ],
)
def test_hostile_listings_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        parse_listing(body, "index.json")


def test_listing_names_sub_directories_with_or_without_a_slash() -> None:
    assert parse_listing(b'[{"name": "2024/"}, {"name": "index.html", "size": 9}]', "x") == [
        "2024",
        "index.html",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/data",
        "http://example.org/data",
        "file:///etc",
        "https://",
        "javascript:x",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(LayoutError, match="not a data URL"):
        check_url(url)


def test_good_urls() -> None:
    assert check_url("https://data.acoustid.org") == "https://data.acoustid.org/"
    assert check_url("http://127.0.0.1:8000/root/") == "http://127.0.0.1:8000/root/"
