"""A lookup that meets pooled connections broken by a database restart is retried, not a 13.

The restart is played for real: every backend of the test database is ended with
``pg_terminate_backend`` while the API's pool holds its connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.db.engine import Databases
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import SONGS, Song, ok, post, song
from tests.services import PostgresDatabases

WAIT_S = 10.0


@pytest.fixture
def api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API with its keys cached: the lookup is the first to use a connection."""
    h = ApiHarness(dbs, tmp_path / "index", key_cache_ttl=300)
    yield h
    h.close()


def _end_backends(admin: sa.Engine, database: str) -> int:
    """End every connection to ``database`` (as a restart would); how many there were."""
    with admin.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar_one()
        query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db")
        deadline = time.monotonic() + WAIT_S
        while conn.execute(query, {"db": database}).scalar_one():
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.02)
    return int(ended)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lookup_after_a_database_restart_is_answered(
    api: ApiHarness, dev_corpus_vectors: Any, pg_databases: PostgresDatabases
) -> None:
    breeze: Song = song(dev_corpus_vectors, SONGS["breeze"])
    gid = api.add_track(breeze.items, breeze.length)
    query = {"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length}
    expected = [{"id": str(gid), "score": 1.0}]
    assert ok(api, query)["results"] == expected
    disconnects: list[bool] = []

    def seen(context: Any) -> None:
        disconnects.append(context.is_disconnect)

    engine = api.dbs.fingerprint
    sa.event.listen(engine, "handle_error", seen)
    try:
        assert _end_backends(pg_databases.admin, str(engine.url.database)) >= 1
        response = post(api, query)
    finally:
        sa.event.remove(engine, "handle_error", seen)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == expected
    # The first attempt did meet a broken connection.
    assert disconnects == [True]
    assert ok(api, query)["results"] == expected
