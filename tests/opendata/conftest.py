"""Fixtures of the open data tests: the API over a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.db.engine import Databases
from tests.api.harness import ApiHarness


@pytest.fixture
def api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    h = ApiHarness(dbs, tmp_path / "index")
    yield h
    h.close()
