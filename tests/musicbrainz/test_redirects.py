"""The functions the MBID maintenance task calls (reference §10), on SQLite and PostgreSQL."""

from __future__ import annotations

from earmark.musicbrainz.redirects import (
    existing_recordings,
    last_replication_date,
    resolve_redirects,
)
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.musicbrainz.synthetic import REPLICATION_DATE, synthetic_gid
from tests.musicbrainz.cases import MISSING, MOON
from tests.musicbrainz.support import Mirror
from tests.services import SqliteDatabases


def test_resolve_redirects(mirror: Mirror) -> None:
    data = mirror.synthetic
    asked = [*data.redirects, MOON, data.unknown[0]]
    with mirror.database.read() as conn:
        assert resolve_redirects(conn, asked) == data.redirects
        assert resolve_redirects(conn, [old.upper() for old in data.redirects]) == data.redirects
        assert resolve_redirects(conn, []) == {}


def test_existing_recordings(mirror: Mirror) -> None:
    data = mirror.synthetic
    old = next(iter(data.redirects))
    absent = [str(synthetic_gid("absent-recording", n)) for n in range(600)]  # > one chunk
    with mirror.database.read() as conn:
        found = existing_recordings(conn, [MOON, MISSING, old, *absent, *data.recordings])
    assert found == {MOON, *data.recordings}


def test_last_replication_date(mirror: Mirror) -> None:
    with mirror.database.read() as conn:
        assert last_replication_date(conn) == REPLICATION_DATE


def test_no_replication_control_row(sqlite_databases: SqliteDatabases) -> None:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    with database.read() as conn:
        assert last_replication_date(conn) is None
    database.dispose()


def test_plain_sqlite_connection_works_too(sqlite_mirror: Mirror) -> None:
    """A connection without Earmark's schema map (as a caller might open one) still works."""
    with sqlite_mirror.database.engine.connect() as conn:
        assert existing_recordings(conn, [MOON]) == {MOON}
