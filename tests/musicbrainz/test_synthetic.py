"""The synthetic data set: deterministic, clearly labelled, next to mbdata's sample."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables
from earmark.musicbrainz.synthetic import (
    ISRC_PREFIX,
    SYNTHETIC_NAMESPACE,
    SyntheticData,
    generate,
    synthetic_gid,
)
from tests.mirrors import SYNTHETIC_COUNT
from tests.musicbrainz.support import Mirror, row_counts, table_rows
from tests.services import SqliteDatabases

NAMED = ("artist", "artist_credit", "recording", "release", "release_group", "track")


@pytest.fixture
def fresh(sqlite_databases: SqliteDatabases) -> Iterator[MusicBrainzDatabase]:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    yield database
    database.dispose()


def _generate(database: MusicBrainzDatabase, count: int, seed: int) -> SyntheticData:
    with database.write() as conn:
        return generate(conn, count, seed)


def _names(database: MusicBrainzDatabase, table_name: str) -> list[str]:
    table = tables().by_name()[table_name]
    with database.read() as conn:
        return [str(name) for name in execute(conn, sa.select(table.c.name)).scalars()]


def _snapshot(database: MusicBrainzDatabase) -> dict[str, list[Any]]:
    """Everything but internal ids and timestamps."""
    mb = tables()
    with database.read() as conn:
        return {
            "recordings": list(
                execute(
                    conn, sa.select(mb.recording.c.gid, mb.recording.c.name, mb.recording.c.length)
                )
            ),
            "tracks": list(
                execute(conn, sa.select(mb.track.c.gid, mb.track.c.name, mb.track.c.position))
            ),
            "isrcs": sorted(execute(conn, sa.select(mb.isrc.c.isrc)).scalars()),
            "events": sorted(
                execute(
                    conn,
                    sa.select(
                        mb.release_country.c.date_year,
                        mb.release_country.c.date_month,
                        mb.release_country.c.date_day,
                    ),
                ),
                key=repr,
            ),
        }


def test_same_seed_same_data(sqlite_databases: SqliteDatabases) -> None:
    first, second, other = (
        MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False)) for _ in range(3)
    )
    try:
        summaries = []
        for database, seed in ((first, 5), (second, 5), (other, 6)):
            database.create_schema()
            summaries.append(_generate(database, 30, seed))
        assert summaries[0] == summaries[1]
        assert _snapshot(first) == _snapshot(second)
        assert _snapshot(first) != _snapshot(other)
        # The gids of the recordings do not depend on the seed, their shapes do.
        assert summaries[0].recordings == summaries[2].recordings
    finally:
        for database in (first, second, other):
            database.dispose()


def test_everything_is_labelled_synthetic(fresh: MusicBrainzDatabase) -> None:
    data = _generate(fresh, 40, 1)
    for table_name in NAMED:
        names = _names(fresh, table_name)
        assert names
        assert all(name.startswith("Synthetic") for name in names), table_name
    mediums = [name for name in _names(fresh, "medium") if name]
    assert all(name.startswith("Synthetic") for name in mediums)
    assert all(name.startswith("Synthetic") for name in _names(fresh, "area"))
    expected = {str(synthetic_gid("recording", n)) for n in range(1, 41)}
    assert set(data.recordings) == expected
    assert all(uuid.UUID(mbid).version == 5 for mbid in data.recordings)
    assert synthetic_gid("recording", 1) == uuid.uuid5(SYNTHETIC_NAMESPACE, "synthetic/recording/1")
    isrcs = [row[2] for row in table_rows(fresh, "isrc")]
    assert isrcs
    assert all(code.startswith(ISRC_PREFIX) and len(code) == 12 for code in isrcs)
    (control,) = table_rows(fresh, "replication_control")
    assert control[2] == 0  # current_replication_sequence: the SYNTHETIC marker


def test_planted_cases_are_there(fresh: MusicBrainzDatabase) -> None:
    data = _generate(fresh, 100, 2)
    assert data.standalone
    assert data.null_length
    assert data.multi_artist
    assert data.redirects
    assert data.unknown_country_releases
    assert data.non_latin
    assert data.untyped_release_group
    assert set(data.redirects.values()) <= set(data.recordings)
    assert not set(data.unknown) & set(data.recordings)


def test_refusals(fresh: MusicBrainzDatabase) -> None:
    with pytest.raises(MusicBrainzError, match="at least 20"):
        _generate(fresh, 5, 1)
    _generate(fresh, 20, 1)
    with pytest.raises(MusicBrainzError, match="already loaded"):
        _generate(fresh, 20, 2)


def test_sits_next_to_the_sample(mirror: Mirror) -> None:
    counts = row_counts(mirror.database)
    assert counts["recording"] == 41 + SYNTHETIC_COUNT
    assert counts["replication_control"] == 1
