"""Fixtures of the library tests: the real API app over a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.db.engine import Databases
from tests.api.harness import ApiHarness


@pytest.fixture
def api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a fresh database (SQLite and PostgreSQL), no mirror, no rate limits."""
    h = ApiHarness(dbs, tmp_path / "index")
    yield h
    h.close()
