"""One MusicBrainz mirror per engine and test session: mbdata's sample plus synthetic data.

The fixtures are registered in tests/conftest.py (the MusicBrainz and API tests use them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earmark.musicbrainz import sample, synthetic
from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.musicbrainz.support import Mirror
from tests.services import PostgresDatabases, SqliteDatabases

SYNTHETIC_COUNT = 200
SYNTHETIC_SEED = 7
# A schema other than the default on PostgreSQL, so that the mapping is exercised everywhere.
PG_SCHEMA = "mb_test"


def _fill(database: MusicBrainzDatabase) -> Mirror:
    database.create_schema()
    with database.write() as conn:
        sample.load_sample(conn)
    with database.write() as conn:
        data = synthetic.generate(conn, SYNTHETIC_COUNT, SYNTHETIC_SEED)
    return Mirror(database, data)


@pytest.fixture(scope="session")
def sqlite_mirror(sqlite_databases: SqliteDatabases) -> Iterator[Mirror]:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    yield _fill(database)
    database.dispose()


@pytest.fixture(scope="session")
def postgres_mirror(pg_databases: PostgresDatabases) -> Iterator[Mirror]:
    database = MusicBrainzDatabase.from_url(pg_databases.create(migrated=False), PG_SCHEMA)
    yield _fill(database)
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror(request: pytest.FixtureRequest) -> Mirror:
    """The session's mirror on SQLite, then on PostgreSQL."""
    name = "sqlite_mirror" if request.param == "sqlite" else "postgres_mirror"
    found: Mirror = request.getfixturevalue(name)
    return found
