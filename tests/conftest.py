"""Shared fixtures (plain helpers live in tests/support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark.db.engine import Databases
from tests.mirrors import mirror, postgres_mirror, sqlite_mirror
from tests.services import PostgresDatabases, SqliteDatabases, postgres_databases
from tests.support import load_vectors, require_music

__all__ = ["mirror", "postgres_mirror", "sqlite_mirror"]


@pytest.fixture(scope="session")
def acoustid_fixtures() -> Any:
    return load_vectors("acoustid-fixtures.json")


@pytest.fixture(scope="session")
def dev_corpus_vectors() -> Any:
    return load_vectors("dev-corpus-compare.json")


@pytest.fixture(scope="session")
def music_file() -> Path:
    return require_music(1)[0]


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """Fresh databases on the real PostgreSQL server (skipped without it, failed in CI)."""
    yield from postgres_databases()


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database migrated to head, once on SQLite and once on PostgreSQL."""
    factory = request.getfixturevalue(f"{request.param.replace('postgresql', 'pg')}_databases")
    url: str = factory.create()
    return url


@pytest.fixture
def dbs(database_url: str) -> Iterator[Databases]:
    """Earmark's three logical databases in one fresh physical database (SQLite, PostgreSQL)."""
    databases = Databases.single(database_url)
    yield databases
    databases.dispose()
