from __future__ import annotations

from collections.abc import Iterator

import pytest

from earmark.db.engine import Databases
from tests.web.harness import WebHarness


@pytest.fixture
def web(dbs: Databases) -> Iterator[WebHarness]:
    """The website over fresh databases (SQLite and PostgreSQL), sign-in limits off."""
    harness = WebHarness(dbs)
    yield harness
    harness.close()
