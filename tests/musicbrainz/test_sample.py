"""mbdata's real sample in the subset: counts, the gid shim, idempotence and refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.sample import SAMPLE_GID_NAMESPACE, load_sample, sample_loaded
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables
from earmark.musicbrainz.synthetic import generate
from tests.musicbrainz.support import Mirror, row_counts, table_rows
from tests.services import SqliteDatabases


@pytest.fixture
def fresh(sqlite_databases: SqliteDatabases) -> Iterator[MusicBrainzDatabase]:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    yield database
    database.dispose()


def test_sample_contents(mirror: Mirror) -> None:
    counts = row_counts(mirror.database)
    with mirror.database.read() as conn:
        assert sample_loaded(conn)
    # Two real releases; the synthetic set adds its own on top.
    names = {row[2] for row in table_rows(mirror.database, "release")}
    assert {"Trentemøller: The Pølar Mix", "XVI Reflections on Classical Music"} <= names
    assert counts["artist_credit_name"] >= 33


def test_gid_shim_fills_credit_and_medium_gids(mirror: Mirror) -> None:
    mb = tables()
    with mirror.database.read() as conn:
        for table in (mb.artist_credit, mb.medium):
            rows = list(execute(conn, sa.select(table.c.id, table.c.gid)))
            shimmed = [
                row
                for row in rows
                if row.gid == uuid.uuid5(SAMPLE_GID_NAMESPACE, f"{table.name}/{row.id}")
            ]
            assert shimmed, table.name


def test_load_twice_does_nothing(fresh: MusicBrainzDatabase) -> None:
    with fresh.write() as conn:
        first = load_sample(conn)
    with fresh.write() as conn:
        second = load_sample(conn)
    assert first.loaded
    assert first.rows["recording"] == 41
    assert first.rows["release"] == 2
    assert not second.loaded
    assert row_counts(fresh)["recording"] == 41


def test_refuses_a_database_with_other_recordings(fresh: MusicBrainzDatabase) -> None:
    with fresh.write() as conn:
        generate(conn, 20, 1)
    with pytest.raises(MusicBrainzError, match="not mbdata's sample"), fresh.write() as conn:
        load_sample(conn)


def test_collision_is_reported_not_raised_raw(fresh: MusicBrainzDatabase) -> None:
    with fresh.write() as conn:
        execute(
            conn,
            tables().medium_format.insert().values(id=1, name="Taken", gid=uuid.uuid4()),
        )
    with pytest.raises(MusicBrainzError, match="collides"), fresh.write() as conn:
        load_sample(conn)
    counts = row_counts(fresh)
    assert counts.pop("medium_format") == 1
    assert set(counts.values()) == {0}  # the failed load was rolled back
