"""Fixtures of the website's tests: the site over fresh databases, and the browser fixtures
(tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earmark.db.engine import Databases
from tests.web.browser import browser, page, page_log
from tests.web.harness import WebHarness

__all__ = ["browser", "page", "page_log"]


@pytest.fixture
def web(dbs: Databases) -> Iterator[WebHarness]:
    """The website over fresh databases (SQLite and PostgreSQL), sign-in limits off."""
    harness = WebHarness(dbs)
    yield harness
    harness.close()
