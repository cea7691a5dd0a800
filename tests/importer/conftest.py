"""Fixtures of the importer tests: a harness over a fresh database, a per-test JetStream stream."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from earmark.db.engine import Databases
from tests.importer.harness import Harness
from tests.services import NATS_URL, RUN_ID, require_nats

_streams = itertools.count()


async def _delete_stream(name: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture
def nats_stream() -> Iterator[str]:
    """A stream name no other test or run uses; the stream is deleted afterwards."""
    require_nats()
    name = f"EARMARK_TEST_{RUN_ID}_{next(_streams)}"
    yield name
    asyncio.run(_delete_stream(name))


@pytest.fixture
def harness(dbs: Databases, tmp_path: Path) -> Iterator[Harness]:
    """Earmark's databases (SQLite and PostgreSQL), an index and a searcher over them."""
    h = Harness(dbs, tmp_path / "index")
    yield h
    h.close()
