"""Fixtures of the cron tests: the counter backends (tests/counters) and a MusicBrainz mirror."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.counters.fixtures import backends, redis_client, redis_prefix
from tests.cron import mb

__all__ = ["backends", "redis_client", "redis_prefix"]


@pytest.fixture(scope="session")
def mirror_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mirror") / "template.db"
    mirror = MusicBrainzDatabase.from_url(f"sqlite:///{path}")
    mirror.create_schema()
    with mirror.write() as conn:
        mb.add_artist_credit(conn)
    mirror.dispose()
    return path


@pytest.fixture
def mirror(mirror_template: Path, tmp_path: Path) -> Iterator[MusicBrainzDatabase]:
    """An empty MusicBrainz mirror (the subset's tables, one artist credit) on SQLite."""
    path = tmp_path / "musicbrainz.db"
    shutil.copyfile(mirror_template, path)
    database = MusicBrainzDatabase.from_url(f"sqlite:///{path}")
    yield database
    database.dispose()
