"""The lookup subset of the MusicBrainz schema on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from earmark.musicbrainz.catalog_search import TABLE_PREFIX
from earmark.musicbrainz.schema import (
    SUBSET_TABLES,
    MusicBrainzDatabase,
    create_schema,
    execute,
    models,
    tables,
)
from tests.mirrors import PG_SCHEMA
from tests.musicbrainz.support import Mirror
from tests.services import SqliteDatabases

SUBSET = set(SUBSET_TABLES)


def _schema_of(mirror: Mirror) -> str | None:
    return None if mirror.kind == "sqlite" else mirror.database.schema_name


def test_subset_tables_and_view(mirror: Mirror) -> None:
    with mirror.database.read() as conn:
        inspector = sa.inspect(conn)
        schema = _schema_of(mirror)
        names = set(inspector.get_table_names(schema=schema))
        # The catalog's search index lives next to the mirror once built (other tests on the
        # same mirror build it): derived data, not part of the subset.
        assert {name for name in names if not name.startswith(TABLE_PREFIX)} == SUBSET
        assert set(inspector.get_view_names(schema=schema)) == {"release_event"}
        medium = {index["name"] for index in inspector.get_indexes("medium", schema=schema)}
        track = {index["name"] for index in inspector.get_indexes("track", schema=schema)}
        artist = {index["name"] for index in inspector.get_indexes("artist", schema=schema)}
    assert "medium_idx_release_position" in medium
    assert "track_idx_medium_position" in track
    assert "artist_idx_null_comment" not in artist
    assert "artist_idx_uniq_name_comment" in artist


def test_postgresql_uses_the_configured_schema(postgres_mirror: Mirror) -> None:
    assert postgres_mirror.database.schema_name == PG_SCHEMA
    with postgres_mirror.database.read() as conn:
        schemas = sa.inspect(conn).get_schema_names()
    assert PG_SCHEMA in schemas
    assert "musicbrainz" not in schemas


def test_release_event_is_the_union_of_both_tables(mirror: Mirror) -> None:
    mb = tables()

    def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        with mirror.database.read() as conn:
            query = sa.select(sa.func.count()).select_from(table).where(*where)
            return int(execute(conn, query).scalar_one())

    known, unknown = count(mb.release_country), count(mb.release_unknown_country)
    assert unknown > 0
    assert count(mb.release_event) == known + unknown
    assert count(mb.release_event, mb.release_event.c.country.is_(None)) == unknown


def test_create_schema_is_idempotent(sqlite_databases: SqliteDatabases) -> None:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    try:
        assert set(create_schema(database.engine)) == SUBSET
        assert create_schema(database.engine) == []
        # The degenerate unique index on artist names is not there: namesakes are fine.
        with database.write() as conn:
            for n in (1, 2):
                execute(
                    conn,
                    tables()
                    .artist.insert()
                    .values(
                        id=n,
                        gid=uuid.uuid4(),
                        name="Namesake",
                        sort_name="Namesake",
                        comment=str(n),
                    ),
                )
    finally:
        database.dispose()


def test_models_are_configured_once_for_the_musicbrainz_schema() -> None:
    assert models() is models()
    assert models().Recording.__table__.schema == "musicbrainz"
    assert tables() is tables()
    order = [table.name for table in tables().base_tables()]
    assert set(order) == SUBSET
    for position, table in enumerate(tables().base_tables()):
        parents = {key.column.table.name for key in table.foreign_keys} - {table.name}
        assert parents <= set(order[:position]), table.name


@pytest.mark.parametrize("name", sorted(SUBSET))
def test_every_subset_table_comes_from_mbdata(name: str) -> None:
    assert tables().by_name()[name] is models().Base.metadata.tables[f"musicbrainz.{name}"]


def test_importing_the_package_configures_nothing() -> None:
    """mbdata's process-global configuration happens on first use, never on import."""
    code = (
        "import sys, earmark.cli.mb_cmd, earmark.musicbrainz.enrich, earmark.musicbrainz.dump, "
        "earmark.musicbrainz.redirects, earmark.musicbrainz.synthetic\n"
        "assert 'mbdata.models' not in sys.modules\n"
        "import mbdata.config\n"
        "assert not mbdata.config.schemas\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
