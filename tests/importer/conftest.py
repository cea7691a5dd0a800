"""Fixtures of the importer tests: a per-test JetStream stream on the real NATS server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator

import nats
import pytest
from nats.js.errors import NotFoundError

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
