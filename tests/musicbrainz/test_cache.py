"""The MusicBrainz metadata cache answers as lookup_metadata does, and spares the mirror.

Statements are seen from the engine (``before_cursor_execute``), the MBIDs each statement asked
for from the parameters it was executed with (``before_execute``).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz import statements
from earmark.musicbrainz.assemble import recording_trees
from earmark.musicbrainz.cache import MetadataCache
from earmark.musicbrainz.enrich import inject_metadata
from earmark.musicbrainz.flags import parse_meta
from earmark.musicbrainz.metadata import lookup_metadata
from tests.musicbrainz.cases import MISSING, MOON, SAMPLE_REQUEST
from tests.musicbrainz.support import Mirror, links, result_id
from tests.support import driver_statements, statements_run

EVERYTHING = "recordings releasegroups releases tracks isrcs compress sources usermeta"
SHAPES = [
    {},
    {"releases": True},
    {"release_groups": True},
    {"isrcs": True},
    {"releases": True, "release_groups": True, "isrcs": True},
]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def mbids_asked(engine: sa.Engine) -> Iterator[list[set[str]]]:
    """The MBIDs of each statement that asked for recordings by MBID, in order."""
    asked: list[set[str]] = []

    def record(_conn: Any, _elem: Any, multiparams: Any, params: Any, _options: Any) -> None:
        for found in [*multiparams, params]:
            if isinstance(found, dict) and statements.MBIDS in found:
                asked.append({str(mbid) for mbid in found[statements.MBIDS]})

    def record_driver(_statement: str, parameters: Any) -> None:
        record(None, None, [], parameters, None)

    sa.event.listen(engine, "before_execute", record)
    try:
        with driver_statements(engine, record_driver):
            yield asked
    finally:
        sa.event.remove(engine, "before_execute", record)


def _mbids(mirror: Mirror) -> list[str]:
    """Recordings, merged-away MBIDs, a redirect and its target together, unknown MBIDs."""
    data = mirror.synthetic
    old, current = next(iter(data.redirects.items()))
    return [
        MOON.upper(),
        data.fan_out,
        *data.recordings[:5],
        *data.multi_artist[:2],
        *data.redirects,
        current,
        old,
        *data.unknown[:2],
        MISSING,
    ]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "+".join(s) or "recordings")
def test_the_cache_answers_as_lookup_metadata(mirror: Mirror, shape: dict[str, bool]) -> None:
    mbids = _mbids(mirror)
    cache = MetadataCache(300, 1000)
    engine = mirror.database.engine
    with mirror.database.read() as conn:
        expected = lookup_metadata(conn, mbids, **shape)
        first = cache.lookup(conn, mbids, **shape)
        with statements_run(engine) as seen:
            second = cache.lookup(conn, mbids, **shape)
    assert expected.redirects
    assert expected.missing
    assert len(expected.recordings) > 5
    assert first == expected
    assert second == expected
    assert seen == []


def test_only_uncached_mbids_are_looked_up(mirror: Mirror) -> None:
    data = mirror.synthetic
    old = next(iter(data.redirects))
    cached = [data.recordings[0], old, data.unknown[0]]
    fresh = [data.recordings[1], data.recordings[2], data.unknown[1]]
    cache = MetadataCache(300, 1000)
    with mirror.database.read() as conn:
        cache.lookup(conn, cached, releases=True)
        with mbids_asked(mirror.database.engine) as asked:
            mixed = cache.lookup(conn, [*cached, *fresh], releases=True)
        expected = lookup_metadata(conn, [*cached, *fresh], releases=True)
    assert mixed == expected
    # The main query, then the redirect query for the one that is not a recording.
    assert asked == [set(fresh), {data.unknown[1]}]


def test_shapes_are_cached_separately(mirror: Mirror) -> None:
    mbids = [mirror.synthetic.fan_out, MOON]
    cache = MetadataCache(300, 1000)
    engine = mirror.database.engine
    with mirror.database.read() as conn:
        bare = cache.lookup(conn, mbids)
        assert all(not r.appearances for r in bare.recordings.values())
        for shape in SHAPES[1:]:
            with statements_run(engine) as seen:
                found = cache.lookup(conn, mbids, **shape)
            assert seen, shape
            assert found == lookup_metadata(conn, mbids, **shape)
        with_releases = cache.lookup(conn, mbids, releases=True)
        assert all(r.appearances for r in with_releases.recordings.values())
        # Release groups imply releases (as in lookup_metadata): one shape, already cached.
        with statements_run(engine) as seen:
            cache.lookup(conn, mbids, release_groups=True, releases=True)
        assert seen == []


def _lookup_runs_statements(cache: MetadataCache, conn: Connection, mbids: list[str]) -> bool:
    with statements_run(conn.engine) as seen:
        cache.lookup(conn, mbids)
    return bool(seen)


def test_entries_expire_after_the_ttl(mirror: Mirror) -> None:
    clock = Clock()
    cache = MetadataCache(60, 1000, clock=clock)
    mbids = [MOON, MISSING, next(iter(mirror.synthetic.redirects))]
    with mirror.database.read() as conn:
        assert _lookup_runs_statements(cache, conn, mbids)
        clock.now += 59.5
        assert not _lookup_runs_statements(cache, conn, mbids)
        clock.now += 1
        assert _lookup_runs_statements(cache, conn, mbids)
        clock.now += 30
        assert not _lookup_runs_statements(cache, conn, mbids)


def test_a_zero_ttl_caches_nothing(mirror: Mirror) -> None:
    cache = MetadataCache(0, 1000)
    with mirror.database.read() as conn:
        assert _lookup_runs_statements(cache, conn, [MOON])
        assert _lookup_runs_statements(cache, conn, [MOON])


def test_the_least_recently_used_leave_first(mirror: Mirror) -> None:
    a, b, c = mirror.synthetic.recordings[:3]
    cache = MetadataCache(300, 2)
    with mirror.database.read() as conn:
        assert _lookup_runs_statements(cache, conn, [a])
        assert _lookup_runs_statements(cache, conn, [b])
        assert not _lookup_runs_statements(cache, conn, [a])  # a is now the most recent
        assert _lookup_runs_statements(cache, conn, [c])  # b leaves
        assert not _lookup_runs_statements(cache, conn, [a])
        assert not _lookup_runs_statements(cache, conn, [c])
        assert _lookup_runs_statements(cache, conn, [b])


def test_clear_forgets_everything(mirror: Mirror) -> None:
    cache = MetadataCache(300, 10)
    with mirror.database.read() as conn:
        assert _lookup_runs_statements(cache, conn, [MOON])
        cache.clear()
        assert _lookup_runs_statements(cache, conn, [MOON])


@pytest.mark.parametrize("meta", [EVERYTHING, "recordings", "releases tracks", "2"])
def test_inject_metadata_answers_the_same_through_the_cache(mirror: Mirror, meta: str) -> None:
    data = mirror.synthetic
    old = next(iter(data.redirects))
    requests = [
        *SAMPLE_REQUEST,
        ("fan-out", 0.9, links((data.fan_out, 2), (old, 1))),
        ("unknown", 0.3, links((data.unknown[0], 1), (str(uuid.UUID(MISSING)).upper(), 2))),
    ]
    flags = parse_meta(meta)
    cache = MetadataCache(300, 1000)

    def results() -> list[dict[str, Any]]:
        return [{"id": result_id(name), "score": score} for name, score, _ in requests]

    result_links = [found for *_, found in requests]
    with mirror.database.read() as conn:
        plain = inject_metadata(conn, results(), result_links, flags)
        filled = inject_metadata(conn, results(), result_links, flags, cache)
        with statements_run(mirror.database.engine) as seen:
            cached = inject_metadata(conn, results(), result_links, flags, cache)
    assert seen == []
    for enrichment in (filled, cached):
        assert enrichment.results == plain.results
        assert enrichment.missing == plain.missing
        assert enrichment.redirects == plain.redirects
    assert old in plain.redirects
    assert data.unknown[0] in plain.missing
    # What the cache holds is shared: a caller changing its results does not change it.
    mutated = copy.deepcopy(cached.results)
    for result in cached.results:
        result.clear()
    with mirror.database.read() as conn:
        again = inject_metadata(conn, results(), result_links, flags, cache)
    assert again.results == mutated


def test_recording_json_is_kept_only_as_long_as_its_recording(mirror: Mirror) -> None:
    """The JSON built for a cached recording is reused while the cache answers that very
    recording, and built again from the recording loaded after it expired."""
    clock = Clock()
    cache = MetadataCache(60, 1000, clock=clock)
    flags = parse_meta("recordings releasegroups releases tracks compress")
    mbids = [MOON, mirror.synthetic.fan_out]
    with mirror.database.read() as conn:
        first = cache.lookup(conn, mbids, releases=True, release_groups=True)
        trees = cache.trees(first.recordings, flags)
        assert set(trees) == set(first.recordings)
        assert trees == recording_trees(first.recordings, flags)
        again = cache.lookup(conn, mbids, releases=True, release_groups=True)
        reused = cache.trees(again.recordings, flags)
        assert all(reused[mbid] is trees[mbid] for mbid in trees)
        # Other flags: other JSON.
        other = cache.trees(again.recordings, parse_meta("recordings releases"))
        assert other == recording_trees(again.recordings, parse_meta("recordings releases"))
        assert other[MOON] != trees[MOON]
        clock.now += 61
        fresh = cache.lookup(conn, mbids, releases=True, release_groups=True)
        rebuilt = cache.trees(fresh.recordings, flags)
    assert all(rebuilt[mbid] is not trees[mbid] for mbid in trees)
    assert rebuilt == trees
