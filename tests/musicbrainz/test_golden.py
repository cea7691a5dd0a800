"""Golden lookups on mbdata's real sample, every meta combination, on SQLite and PostgreSQL.

The expected files in tests/data/musicbrainz/ were reviewed by hand against the rules of
acoustid-server.md §3.3 (and the documented deviations in docs/musicbrainz.md).
"""

from __future__ import annotations

import pytest

from earmark.musicbrainz.enrich import ResultLinks
from tests.musicbrainz.cases import (
    MISSING,
    MOON,
    SAMPLE_META,
    SAMPLE_REQUEST,
    USERMETA_META,
    USERMETA_REQUEST,
    golden_name,
)
from tests.musicbrainz.support import Mirror, golden, links, lookup


@pytest.mark.parametrize("meta", SAMPLE_META)
def test_sample_lookup_matches_golden(mirror: Mirror, meta: str) -> None:
    found = lookup(mirror.database, meta, SAMPLE_REQUEST)
    assert found.results == golden(golden_name("sample", meta))
    assert found.missing == (MISSING,)
    assert found.redirects == {}


@pytest.mark.parametrize("meta", USERMETA_META)
def test_user_meta_fallback_matches_golden(mirror: Mirror, meta: str) -> None:
    found = lookup(mirror.database, meta, USERMETA_REQUEST)
    assert found.results == golden(golden_name("usermeta", meta))


@pytest.mark.parametrize(("shortcut", "words"), [("1", "recordingids"), ("2", "m2")])
def test_legacy_shortcuts_equal_their_flags(
    sqlite_mirror: Mirror, shortcut: str, words: str
) -> None:
    by_shortcut = lookup(sqlite_mirror.database, shortcut, SAMPLE_REQUEST).results
    assert by_shortcut == lookup(sqlite_mirror.database, words, SAMPLE_REQUEST).results
    name = "recordingids" if shortcut == "1" else "2"
    assert by_shortcut == golden(golden_name("sample", name))


def test_moon_is_the_reference_test_case(sqlite_mirror: Mirror) -> None:
    """acoustid-server's own lookup test: Moon in full, the unknown MBID bare."""
    request = [("moon", 1.0, links((MOON, 1), (MISSING, 1)))]
    found = lookup(sqlite_mirror.database, "recordings", request).results
    moon, missing = found[0]["recordings"]
    assert moon["title"] == "Moon"
    assert moon["duration"] == 367.0
    assert isinstance(moon["duration"], float)
    assert missing == {"id": MISSING}


def test_user_meta_is_ignored_when_musicbrainz_knows_something(sqlite_mirror: Mirror) -> None:
    (name, score, user_links) = USERMETA_REQUEST[0]
    request = [(name, score, user_links), ("moon", 0.5, links((MOON, 1)))]
    found = lookup(sqlite_mirror.database, "recordings usermeta", request).results
    assert found[0]["recordings"] == [{"id": MISSING}]
    assert [entry["id"] for entry in found[1]["recordings"]] == [MOON]


@pytest.mark.parametrize("meta", ["", "0", "compress", "sources tracks usermeta", "bogus"])
def test_meta_without_a_mode_adds_nothing_and_reads_nothing(
    sqlite_mirror: Mirror, meta: str
) -> None:
    found = lookup(sqlite_mirror.database, meta, SAMPLE_REQUEST)
    assert all(set(result) == {"id", "score"} for result in found.results)
    assert found.missing == ()


def test_results_and_links_must_pair_up(sqlite_mirror: Mirror) -> None:
    from earmark.musicbrainz.enrich import inject_metadata
    from earmark.musicbrainz.flags import parse_meta

    with sqlite_mirror.database.read() as conn, pytest.raises(ValueError, match="2 results"):
        inject_metadata(conn, [{"id": "a"}, {"id": "b"}], [ResultLinks()], parse_meta("1"))
