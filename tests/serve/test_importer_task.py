"""``earmark serve``'s in-process importer survives an error its worker loop does not handle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.app import ImporterTask
from earmark.db.engine import Databases
from earmark.importer.queue import Delivery, SubmissionQueue
from earmark.importer.table_queue import TableQueue
from tests.importer.harness import Harness
from tests.importer.support import (
    assert_all_imported,
    corpus_recordings,
    make_worker,
    pending_count,
    submit_batch,
)


class FailingOnce(SubmissionQueue):
    """The real table queue, whose first fetch fails as a full connection pool does."""

    name = "table (failing once)"

    def __init__(self, inner: TableQueue) -> None:
        self.inner = inner
        self.failures = 0

    async def publish(self, ids: Sequence[int]) -> int:
        return await self.inner.publish(ids)

    async def fetch(self, limit: int, wait: float) -> list[Delivery]:
        if self.failures == 0:
            self.failures += 1
            raise sa.exc.TimeoutError("QueuePool limit reached, connection timed out")
        return await self.inner.fetch(limit, wait)

    async def republish_stale(self, dbs: Databases) -> int:
        return await self.inner.republish_stale(dbs)


def test_the_importer_restarts_after_an_unexpected_error(
    dbs: Databases, tmp_path: Path, dev_corpus_vectors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    harness = Harness(dbs, tmp_path / "index")
    try:
        batch = submit_batch(harness, corpus_recordings(dev_corpus_vectors, 2))
        queue = FailingOnce(TableQueue(dbs))
        task = ImporterTask(make_worker(harness, queue), first_pause=0.05, max_pause=0.2)

        async def run() -> None:
            await task.start()
            for _ in range(400):
                if pending_count(dbs) == 0:
                    break
                await asyncio.sleep(0.05)
            await task.stop()

        with caplog.at_level(logging.ERROR, logger="earmark.app"):
            asyncio.run(run())
        assert queue.failures == 1
        assert task.restarts == 1
        assert "the in-process importer failed: restarting it in 0.05s" in caplog.text
        assert_all_imported(dbs, batch)
    finally:
        harness.close()


def test_stop_during_the_backoff_returns_at_once(dbs: Databases, tmp_path: Path) -> None:
    harness = Harness(dbs, tmp_path / "index")
    try:
        queue = FailingOnce(TableQueue(dbs))
        # An hour's backoff: a stop that waited it out would never return within the test.
        task = ImporterTask(make_worker(harness, queue), first_pause=3600.0)

        async def run() -> None:
            await task.start()
            while task.restarts == 0:
                await asyncio.sleep(0.01)
            await asyncio.wait_for(task.stop(), 60)  # a failure bound, not a measurement

        asyncio.run(run())
        assert task.restarts == 1  # stopped in the backoff, not restarted
    finally:
        harness.close()
