"""A lookup costs a bounded number of statements, whatever the number of MBIDs and releases."""

from __future__ import annotations

import pytest

from earmark.musicbrainz.enrich import ResultLinks
from tests.musicbrainz.support import Mirror, counted_selects, links, lookup

# Main query, redirect query, release counts, events, release groups, secondary types, ISRCs,
# artists.
MAX_STATEMENTS = 8
EVERYTHING = "recordings releasegroups releases tracks isrcs compress sources"


def _request(mbids: list[str]) -> list[tuple[str, float, ResultLinks]]:
    return [(f"result-{n}", 1.0, links((mbid, 1))) for n, mbid in enumerate(mbids)]


@pytest.mark.parametrize("meta", [EVERYTHING, "releases tracks", "2", "recordings"])
def test_statement_count_does_not_grow_with_the_mbids(mirror: Mirror, meta: str) -> None:
    data = mirror.synthetic
    unknown = data.unknown[0]
    one = [data.fan_out, unknown]
    many = [*data.recordings[:199], unknown, *data.redirects]
    assert len(many) > 200
    engine = mirror.database.engine
    with counted_selects(engine) as few_statements:
        small = lookup(mirror.database, meta, _request(one))
    with counted_selects(engine) as many_statements:
        large = lookup(mirror.database, meta, _request(many))
    assert small.missing == (unknown,)
    assert set(large.redirects) == set(data.redirects)
    assert len(many_statements) == len(few_statements) <= MAX_STATEMENTS


def test_no_redirect_query_when_every_mbid_is_a_recording(sqlite_mirror: Mirror) -> None:
    data = sqlite_mirror.synthetic
    with counted_selects(sqlite_mirror.database.engine) as statements:
        lookup(sqlite_mirror.database, "recordings", _request(list(data.recordings[:50])))
    # The main query and the artists of the credits seen.
    assert len(statements) == 2
    assert not any("recording_gid_redirect" in statement for statement in statements)
