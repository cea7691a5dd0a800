"""The table backend of the submission queue on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from earmark.db import submissions
from earmark.db.engine import Databases
from earmark.db.tables import SubmissionStatus
from earmark.importer.queue import Delivery
from earmark.importer.table_queue import TableDelivery, TableQueue
from tests.importer.support import pending_count, submit_placeholders
from tests.services import PostgresDatabases

#: How long a test lets a woken fetch take before it fails (the fetch itself waits an hour).
WAKE_BOUND_S = 60


def _claim_and_finish(
    dbs: Databases, delivery: Delivery, status: SubmissionStatus = "imported"
) -> int | None:
    """What the worker does around the decision: claim inside a transaction, finish, commit."""
    with dbs.write() as conns:
        claimed = delivery.claim(conns)
        if claimed is not None and status != "pending":
            submissions.finish(conns.ingest, claimed, status)
    return claimed


def test_deliveries_claim_the_oldest_rows_and_ack_after_commit(dbs: Databases) -> None:
    ids = submit_placeholders(dbs, 3)
    queue = TableQueue(dbs)

    async def scenario() -> list[int | None]:
        assert await queue.publish(ids) == 3
        deliveries = await queue.fetch(10, wait=0)
        assert len(deliveries) == 3
        claimed = []
        for delivery in deliveries:
            claimed.append(_claim_and_finish(dbs, delivery))
            assert delivery.submission_id == claimed[-1]
            assert not delivery.redelivered
            await delivery.ack()
        assert await queue.fetch(10, wait=0) == []
        return claimed

    assert asyncio.run(scenario()) == ids
    assert pending_count(dbs) == 0


def test_fetch_honours_the_limit(dbs: Databases) -> None:
    submit_placeholders(dbs, 5)
    queue = TableQueue(dbs)
    assert len(asyncio.run(queue.fetch(2, wait=0))) == 2


def test_publish_wakes_a_waiting_fetch(dbs: Databases) -> None:
    queue = TableQueue(dbs)

    async def scenario() -> tuple[int, float]:
        started = time.monotonic()
        assert await queue.fetch(10, wait=0.2) == []
        idle_wait = time.monotonic() - started
        # Prepared to wait an hour: only the publish can end it within the test.
        waiting = asyncio.create_task(queue.fetch(10, wait=3600))
        await asyncio.sleep(0.05)  # the fetch is now waiting on its event
        ids = await asyncio.to_thread(submit_placeholders, dbs, 1)
        await queue.publish(ids)
        deliveries = await asyncio.wait_for(waiting, WAKE_BOUND_S)
        return len(deliveries), idle_wait

    found, idle_wait = asyncio.run(scenario())
    assert found == 1
    assert idle_wait >= 0.2  # nothing published: the fetch waited its time


def test_retry_skips_the_row_until_its_delay_has_passed(dbs: Databases) -> None:
    (sid,) = submit_placeholders(dbs, 1)
    queue = TableQueue(dbs)

    async def scenario() -> None:
        (first,) = await queue.fetch(10, wait=0)
        assert _claim_and_finish(dbs, first, status="pending") == sid  # e.g. "busy"
        retried = time.monotonic()
        await first.retry(0.3)
        assert await queue.fetch(10, wait=0) == []
        # Prepared to wait an hour: it wakes when the delay is over, not before.
        (again,) = await asyncio.wait_for(queue.fetch(10, wait=3600), WAKE_BOUND_S)
        assert time.monotonic() - retried >= 0.3
        assert _claim_and_finish(dbs, again) == sid
        assert again.redelivered
        await again.ack()

    asyncio.run(scenario())
    assert pending_count(dbs) == 0


def test_a_claim_with_every_row_deferred_finds_nothing(dbs: Databases) -> None:
    (sid,) = submit_placeholders(dbs, 1)
    queue = TableQueue(dbs)

    async def scenario() -> None:
        (first,) = await queue.fetch(10, wait=0)
        assert _claim_and_finish(dbs, first, status="pending") == sid
        await first.retry(60)
        stale = TableDelivery(queue)  # a slot fetched before the retry
        assert _claim_and_finish(dbs, stale, status="pending") is None
        assert stale.submission_id is None
        await stale.retry(1)  # settling an empty slot is harmless

    asyncio.run(scenario())
    assert pending_count(dbs) == 1


def test_concurrent_importers_claim_disjoint_rows(pg_databases: PostgresDatabases) -> None:
    """Three importer processes (three engines) with open transactions: SKIP LOCKED."""
    url = pg_databases.create()
    processes = [Databases.single(url) for _ in range(3)]
    try:
        ids = submit_placeholders(processes[0], 4)
        queues = [TableQueue(d) for d in processes]
        slots = [asyncio.run(q.fetch(1, wait=0))[0] for q in queues]
        with processes[0].write() as a, processes[1].write() as b, processes[2].write() as c:
            claimed = [slot.claim(conns) for slot, conns in zip(slots, (a, b, c), strict=True)]
        assert claimed == ids[:3]
        assert pending_count(processes[0]) == 4  # nothing was finished: the rows stay queued
    finally:
        for d in processes:
            d.dispose()


def test_publish_from_another_thread_wakes_the_fetch(dbs: Databases) -> None:
    queue = TableQueue(dbs)

    async def scenario() -> int:
        waiting = asyncio.create_task(queue.fetch(10, wait=3600))  # only a wake-up ends it
        await asyncio.sleep(0.05)

        def submit_and_notify() -> None:
            submit_placeholders(dbs, 1)
            queue.notify()  # what a web handler running in a thread would call

        await asyncio.to_thread(submit_and_notify)
        return len(await asyncio.wait_for(waiting, WAKE_BOUND_S))

    assert asyncio.run(scenario()) == 1
