"""The importer worker with the table queue, end to end on SQLite and PostgreSQL.

Real submissions (real fingerprints of the dev corpus), the real decision procedure, a real
in-process fingerprint index; the only stand-in is an index server that is not there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from earmark.chromaprint.compare import extract_query
from earmark.db.engine import Databases
from earmark.importer.table_queue import TableQueue
from earmark.importer.worker import Worker
from earmark.search import Searcher
from tests.importer.harness import INDEX_NAME, Harness
from tests.importer.support import (
    FAST_RETRY,
    StopDuringSearch,
    assert_all_imported,
    corpus_recordings,
    dead_index_searcher,
    faulty_searcher,
    ledger,
    make_worker,
    pending_count,
    submit_batch,
)
from tests.services import PostgresDatabases


@pytest.fixture(scope="module")
def recordings(dev_corpus_vectors: Any) -> list[np.ndarray]:
    return corpus_recordings(dev_corpus_vectors, 8)


def test_worker_imports_every_submission_and_indexes_it(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    batch = submit_batch(harness, recordings[:5])
    w = make_worker(harness, batch_size=4)
    stats = asyncio.run(w.run_until_idle(wait=0.1))
    assert (stats.imported, stats.skipped, stats.failed, stats.errors) == (10, 1, 0, 0)
    assert stats.new_fingerprints == stats.new_tracks == 5
    assert stats.batches == 3  # 11 submissions, 4 at a time
    assert_all_imported(harness.dbs, batch)
    index = harness.searcher.index
    for items in recordings[:5]:
        hits = index.search(INDEX_NAME, extract_query(items).tolist())
        assert hits
        assert hits[0].score > 50  # the recording's own fingerprint is indexed

    again = asyncio.run(make_worker(harness).run_until_idle(wait=0.05))
    assert again.as_dict() == type(again)().as_dict()  # nothing left to do


def test_publish_wakes_the_idle_worker(harness: Harness, recordings: list[np.ndarray]) -> None:
    queue = TableQueue(harness.dbs)
    # It idles an hour between polls: only the publish can make it import within the test.
    w = make_worker(harness, queue, min_idle=3600.0, max_idle=3600.0)

    async def scenario() -> None:
        w.start()
        await asyncio.sleep(0.2)  # the worker found nothing and waits an hour for work
        sid = await asyncio.to_thread(harness.submit, recordings[0], 120, mbid=uuid.uuid4())
        await queue.publish([sid])
        deadline = time.monotonic() + 60  # a failure bound, not a measurement
        try:
            while w.stats.imported == 0:
                assert time.monotonic() < deadline, "the publish did not wake the worker"
                await asyncio.sleep(0.01)
        finally:
            await w.stop()

    asyncio.run(scenario())
    assert w.stats.imported == 1
    assert pending_count(harness.dbs) == 0


def test_index_outage_costs_no_attempt_and_is_retried(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    """An outage is not the submission's fault: however long, it never fails a submission."""
    ids = [harness.submit(items, 120, mbid=uuid.uuid4()) for items in recordings[:3]]
    searcher = dead_index_searcher()
    try:
        down = Worker(harness.dbs, searcher, TableQueue(harness.dbs), retry=FAST_RETRY)
        assert asyncio.run(down.run_once()) == 1  # the rest of the batch was handed back
        for _ in range(40):  # more errors than max_attempts, each submission retried
            if down.stats.errors >= 8:
                break
            asyncio.run(down.run_once(wait=0.2))
    finally:
        searcher.index.close()
    assert [harness.submission(s).attempts for s in ids] == [0, 0, 0]
    assert [harness.submission(s).status for s in ids] == ["pending"] * 3
    assert down.stats.errors >= 8
    assert down.stats.failed == 0
    assert down.pause > 0  # the worker holds off before its next pass

    stats = asyncio.run(make_worker(harness).drain(timeout=10))
    assert stats.imported == 3
    recovered = harness.submission(ids[0])
    assert (recovered.status, recovered.reason, recovered.attempts) == ("imported", None, 0)


def test_a_submission_that_keeps_failing_ends_failed_with_its_reason(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    sid = harness.submit(recordings[0], 120, mbid=uuid.uuid4())
    w = Worker(
        harness.dbs,
        faulty_searcher(harness),
        TableQueue(harness.dbs),
        max_attempts=3,
        retry=FAST_RETRY,
        min_idle=0.05,
        pause_max=0.05,
    )
    stats = asyncio.run(w.drain(timeout=10))
    assert (stats.errors, stats.failed, stats.imported) == (3, 1, 0)
    failed = harness.submission(sid)
    assert (failed.status, failed.attempts, failed.handled) == ("failed", 3, True)
    assert "this fingerprint breaks the matcher" in str(failed.reason)
    assert pending_count(harness.dbs) == 0


def test_stop_finishes_the_current_submission_and_hands_back_the_rest(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    ids = [harness.submit(items, 120, mbid=uuid.uuid4()) for items in recordings[:4]]
    searcher = StopDuringSearch(harness.searcher.index, INDEX_NAME)
    w = Worker(harness.dbs, searcher, TableQueue(harness.dbs), min_idle=0.05)
    searcher.worker = w
    stats = asyncio.run(w.run())
    assert stats.imported == 1
    assert harness.submission(ids[0]).status == "imported"
    assert [harness.submission(s).status for s in ids[1:]] == ["pending"] * 3
    assert [harness.submission(s).attempts for s in ids[1:]] == [0] * 3
    assert ledger(harness.dbs).outbox == 0  # the batch's fingerprint was still indexed

    assert asyncio.run(make_worker(harness).drain(timeout=10)).imported == 3


def test_several_workers_on_postgresql_count_each_submission_once(
    pg_databases: PostgresDatabases, tmp_path: Path, recordings: list[np.ndarray]
) -> None:
    """Three importer "processes" (own engines and queues) race for the same submissions;
    repeats of one recording and one MBID make them contend for the same locks."""
    url = pg_databases.create()
    processes = [Databases.single(url) for _ in range(3)]
    h = Harness(processes[0], tmp_path / "index")
    try:
        batch = submit_batch(h, recordings[:4], repeats=4)
        workers = [make_worker(h, dbs=d, batch_size=3) for d in processes]

        async def race() -> None:
            await asyncio.gather(*(w.drain(timeout=30) for w in workers))

        asyncio.run(race())
        assert_all_imported(h.dbs, batch)
        total = sum(w.stats.imported for w in workers)
        assert total == batch.with_mbid
        assert sum(w.stats.skipped for w in workers) == 1
        assert sum(w.stats.failed + w.stats.errors for w in workers) == 0
        print("race:", [w.stats.as_dict() for w in workers])
    finally:
        h.close()
        for d in processes:
            d.dispose()


def test_a_group_sees_its_own_new_fingerprints(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    """One batch, one transaction: the repeats of a new recording find the fingerprint its
    first submission stored moments before (through the outbox, before any commit)."""
    batch = submit_batch(harness, recordings[:3], repeats=3)
    w = make_worker(harness, batch_size=len(batch.ids))
    assert asyncio.run(w.run_once()) == len(batch.ids)
    assert w.stats.batches == 1
    assert (w.stats.imported, w.stats.skipped, w.stats.errors) == (9, 1, 0)
    assert w.stats.new_fingerprints == w.stats.new_tracks == 3
    assert_all_imported(harness.dbs, batch)


class PickySearcher(Searcher):
    """A searcher that breaks (an error of the submission's own) on one fingerprint."""

    bad: np.ndarray | None = None

    def search(self, conn: Any, items: Any, *args: Any, **kwargs: Any) -> Any:
        if self.bad is not None and np.array_equal(np.asarray(items).astype(np.uint32), self.bad):
            raise ValueError("this fingerprint breaks the matcher")
        return super().search(conn, items, *args, **kwargs)


def test_a_bad_submission_does_not_sink_its_group(
    harness: Harness, recordings: list[np.ndarray]
) -> None:
    """The group fails as a whole (nothing of it committed), then its submissions are imported
    one by one: the others once each, the bad one counted and finally failed."""
    batch = submit_batch(harness, recordings[:3], repeats=2)
    bad = harness.submit(recordings[3], 120, mbid=uuid.uuid4())
    searcher = PickySearcher(harness.searcher.index, INDEX_NAME)
    searcher.bad = recordings[3]
    w = make_worker(harness, batch_size=10, max_attempts=2)
    w.searcher = searcher
    stats = asyncio.run(w.drain(timeout=20))
    assert (stats.imported, stats.skipped, stats.failed, stats.errors) == (6, 1, 1, 2)
    found = ledger(harness.dbs)
    assert found.statuses[bad] == "failed"
    assert found.imported() == sorted(batch.ids[:-1])
    found.assert_each_imported_once(batch.with_mbid)
    assert harness.submission(bad).attempts == 2
