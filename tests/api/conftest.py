"""Fixtures of the API tests: the app over a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.db.engine import Databases
from tests.api.harness import ApiHarness
from tests.musicbrainz.support import Mirror


@pytest.fixture
def api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a fresh database, once on SQLite and once on PostgreSQL, no mirror."""
    h = ApiHarness(dbs, tmp_path / "index")
    yield h
    h.close()


@pytest.fixture
def api_mb(dbs: Databases, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ApiHarness]:
    """The API with a MusicBrainz mirror (mbdata's sample and synthetic data) on the same
    engine as the databases."""
    name = "sqlite_mirror" if dbs.app.dialect.name == "sqlite" else "postgres_mirror"
    mirror: Mirror = request.getfixturevalue(name)
    h = ApiHarness(dbs, tmp_path / "index", mirror.database)
    yield h
    h.close()
