"""The importer worker with the NATS JetStream queue: redelivery, failure, crashes, replicas."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from earmark.db.engine import Databases
from earmark.importer.nats_queue import NatsQueue
from earmark.importer.worker import ImporterStats, Worker
from earmark.index.client import LocalIndexClient
from earmark.index.engine import MultiIndex
from earmark.search import Searcher
from tests.importer import crash_importer
from tests.importer.harness import INDEX_NAME, Harness
from tests.importer.support import (
    FAST_RETRY,
    StopDuringSearch,
    age_pending,
    assert_all_imported,
    corpus_recordings,
    faulty_searcher,
    ledger,
    make_worker,
    submit_batch,
)
from tests.services import NATS_URL, PostgresDatabases
from tests.support import ROOT


@pytest.fixture(scope="module")
def recordings(dev_corpus_vectors: Any) -> list[np.ndarray]:
    return corpus_recordings(dev_corpus_vectors, 6)


def nats_queue(stream: str, **kwargs: Any) -> NatsQueue:
    kwargs.setdefault("ack_wait", 1.0)
    return NatsQueue(NATS_URL, stream, **kwargs)


async def stream_messages(stream: str, expected: int) -> int:
    """Messages left in the stream; polls for ``expected`` (the server applies acks and terms
    asynchronously), up to 30 s: a failure bound, it returns as soon as the count is there."""
    deadline = time.monotonic() + 30
    async with nats_queue(stream) as queue:
        while True:
            info = await queue.jetstream.stream_info(stream)
            count = int(info.state.messages)
            if count == expected or time.monotonic() > deadline:
                return count
            await asyncio.sleep(0.02)


async def publish(stream: str, ids: list[int]) -> int:
    """What the API does after committing the submissions."""
    async with nats_queue(stream) as queue:
        return await queue.publish(ids)


async def run(worker: Worker, timeout: float = 20) -> ImporterStats:
    async with worker.queue:
        return await worker.drain(timeout=timeout)


async def run_and_collect_redeliveries(worker: Worker) -> ImporterStats:
    """Drain, then take the messages still due back: the database has nothing pending once
    every import is committed, but committed imports whose ack was lost come back (``already``)
    after the ack wait."""
    async with worker.queue:
        await worker.drain(timeout=20)
        return await worker.run_until_idle(wait=3 * crash_importer.ACK_WAIT)


def test_published_submissions_are_imported_and_acknowledged(
    harness: Harness, recordings: list[np.ndarray], nats_stream: str
) -> None:
    batch = submit_batch(harness, recordings[:3])
    assert asyncio.run(publish(nats_stream, batch.ids)) == len(batch.ids)
    w = make_worker(harness, nats_queue(nats_stream), batch_size=4)
    stats = asyncio.run(run(w))
    assert (stats.imported, stats.skipped, stats.redelivered, stats.failed) == (6, 1, 0, 0)
    assert_all_imported(harness.dbs, batch)
    assert asyncio.run(stream_messages(nats_stream, 0)) == 0
    assert asyncio.run(publish(nats_stream, batch.ids)) == 0  # a re-publish is a no-op


def test_deliveries_are_not_attempts(
    harness: Harness, recordings: list[np.ndarray], nats_stream: str
) -> None:
    """The stream gives up after 3 deliveries, the submission has 4 attempts: on its last
    delivery the message is published anew, and the submission fails on its 4th error only."""
    sid = harness.submit(recordings[0], 120, mbid=uuid.uuid4())
    asyncio.run(publish(nats_stream, [sid]))
    w = Worker(
        harness.dbs,
        faulty_searcher(harness),
        nats_queue(nats_stream, max_deliveries=3),
        max_attempts=4,
        retry=FAST_RETRY,
        min_idle=0.05,
        pause_max=0.05,
    )
    stats = asyncio.run(run(w))
    assert (stats.errors, stats.failed) == (4, 1)
    failed = harness.submission(sid)
    assert (failed.status, failed.attempts) == ("failed", 4)
    assert str(failed.reason).startswith("ValueError: this fingerprint breaks the matcher")
    assert asyncio.run(stream_messages(nats_stream, 0)) == 0  # terminated, not left behind


def test_submissions_whose_message_was_lost_are_republished(
    harness: Harness, recordings: list[np.ndarray], nats_stream: str
) -> None:
    """NATS was down when the API committed: the pending rows are the outbox."""
    lost = [harness.submit(items, 120, mbid=uuid.uuid4()) for items in recordings[:2]]
    just_made = harness.submit(recordings[2], 120, mbid=uuid.uuid4())
    age_pending(harness.dbs, lost, 3600)
    w = make_worker(harness, nats_queue(nats_stream, republish_after=600))

    async def scenario() -> ImporterStats:
        async with w.queue:
            return await w.run_until_idle(wait=0.5)

    stats = asyncio.run(scenario())
    assert (stats.republished, stats.imported) == (2, 2)
    assert [harness.submission(s).status for s in lost] == ["imported", "imported"]
    assert harness.submission(just_made).status == "pending"  # its message may be on its way


def test_stop_hands_back_unacknowledged_messages(
    harness: Harness, recordings: list[np.ndarray], nats_stream: str
) -> None:
    ids = [harness.submit(items, 120, mbid=uuid.uuid4()) for items in recordings[:4]]
    asyncio.run(publish(nats_stream, ids))
    searcher = StopDuringSearch(harness.searcher.index, INDEX_NAME)
    stopping = Worker(harness.dbs, searcher, nats_queue(nats_stream), min_idle=0.05)
    searcher.worker = stopping

    async def until_stopped() -> ImporterStats:
        async with stopping.queue:
            return await stopping.run()

    assert asyncio.run(until_stopped()).imported == 1
    assert [harness.submission(s).status for s in ids] == ["imported"] + ["pending"] * 3
    assert asyncio.run(stream_messages(nats_stream, 3)) == 3

    stats = asyncio.run(run(make_worker(harness, nats_queue(nats_stream))))
    assert (stats.imported, stats.already, stats.redelivered) == (3, 0, 3)
    ledger(harness.dbs).assert_each_imported_once(with_mbid=4)


@pytest.mark.parametrize(
    ("mode", "committed", "acked", "restart"),
    [
        # SIGKILLed when the 8th ack is due: the batches are of 5 and each is one transaction,
        # so the 2nd batch (imports 6-10) is committed, 7 messages are acknowledged and 8-10
        # come back as redeliveries that find their import done (``already``).
        ("ack", 10, 7, (8, 1, 3, 3)),
        # SIGKILLed at the 8th search, in the middle of the 2nd batch's transaction (imports 6
        # and 7 written, not committed): only the 1st batch is committed and acknowledged; the
        # 2nd batch's 5 messages come back and are imported once.
        ("search", 5, 5, (13, 1, 0, 5)),
    ],
)
def test_a_crash_imports_everything_exactly_once(
    pg_databases: PostgresDatabases,
    tmp_path: Path,
    recordings: list[np.ndarray],
    nats_stream: str,
    mode: str,
    committed: int,
    acked: int,
    restart: tuple[int, int, int, int],
) -> None:
    """An importer process is SIGKILLed after committing an import group but before acking
    all of it (``ack``), or in the middle of a group (``search``). A new importer then finishes:
    each submission imported once, nothing acknowledged lost, a committed one found ``already``."""
    url = pg_databases.create()
    dbs = Databases.single(url)
    data = Harness(dbs, tmp_path / "unused-index")  # accounts, applications, submissions
    index_dir = tmp_path / "index"
    try:
        batch = submit_batch(data, recordings[:6], repeats=3)
        ids = batch.ids[:-1]  # 18 submissions, three of each recording (+ one to skip)
        asyncio.run(publish(nats_stream, batch.ids))
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.importer.crash_importer",
                url,
                NATS_URL,
                nats_stream,
                str(index_dir),
                INDEX_NAME,
                "8",
                "5",
                mode,
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
        before = ledger(dbs)
        assert len(before.imported()) == committed
        unacked = len(batch.ids) - acked
        assert asyncio.run(stream_messages(nats_stream, unacked)) == unacked

        engine = MultiIndex(index_dir)  # the dead importer's index, as a restart would
        try:
            restarted = Worker(
                dbs,
                Searcher(LocalIndexClient(engine), INDEX_NAME),
                nats_queue(nats_stream, ack_wait=crash_importer.ACK_WAIT),
                batch_size=5,
                min_idle=0.05,
            )
            stats = asyncio.run(run_and_collect_redeliveries(restarted))
        finally:
            engine.close()
        assert (stats.imported, stats.skipped, stats.already, stats.redelivered) == restart
        after = assert_all_imported(dbs, batch)
        assert after.imported() == sorted(ids)
        assert after.fingerprints == 6  # each recording stored once, counted three times
        assert asyncio.run(stream_messages(nats_stream, 0)) == 0
    finally:
        data.close()
        dbs.dispose()


def test_several_nats_workers_on_postgresql_count_each_submission_once(
    pg_databases: PostgresDatabases,
    tmp_path: Path,
    recordings: list[np.ndarray],
    nats_stream: str,
) -> None:
    url = pg_databases.create()
    processes = [Databases.single(url) for _ in range(3)]
    h = Harness(processes[0], tmp_path / "index")
    try:
        batch = submit_batch(h, recordings[:4], repeats=4)
        asyncio.run(publish(nats_stream, batch.ids))
        workers = [make_worker(h, nats_queue(nats_stream), dbs=d, batch_size=3) for d in processes]

        async def race() -> None:
            await asyncio.gather(*(run(w) for w in workers))

        asyncio.run(race())
        assert_all_imported(h.dbs, batch)
        assert sum(w.stats.imported for w in workers) == batch.with_mbid
        assert sum(w.stats.failed + w.stats.errors for w in workers) == 0
        assert asyncio.run(stream_messages(nats_stream, 0)) == 0
    finally:
        h.close()
        for d in processes:
            d.dispose()
