"""Helpers of the queue and worker tests: placeholder and real submissions, aged queue rows,
workers with test-sized delays, and a ledger of what was imported (to check that every
submission counts exactly once)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from earmark.db import submissions
from earmark.db import tables as t
from earmark.db.engine import Databases
from earmark.db.tables import pending_submission
from earmark.importer.queue import RetryPolicy, SubmissionQueue
from earmark.importer.table_queue import TableQueue
from earmark.importer.worker import Worker
from earmark.index.client import HttpIndexClient
from earmark.search import Searcher
from tests.importer.harness import INDEX_NAME, Harness, corpus_items
from tests.index.process import free_port

#: Retries and pauses of a few hundredths of a second instead of seconds.
FAST_RETRY = RetryPolicy(backoff=(0.05,), busy_delay=0.05)


def submit_placeholders(dbs: Databases, count: int) -> list[int]:
    """``count`` pending submissions for tests of the queue alone (never imported)."""
    with dbs.write() as conns:
        return [
            submissions.create(
                conns.ingest,
                account_id=1,
                application_id=1,
                application_version=None,
                fingerprint=[1, 2, 3, 4],
                length=120,
                bitrate=None,
                format=None,
                meta=None,
                mbid=uuid.uuid4(),
                puid=None,
                foreignid=None,
            )
            for _ in range(count)
        ]


def age_pending(dbs: Databases, ids: list[int], seconds: float) -> None:
    """Make queue rows look ``seconds`` older (as if committed while NATS was down)."""
    table = pending_submission
    with dbs.write() as conns:
        rows = conns.ingest.execute(
            sa.select(table.c.id, table.c.created).where(table.c.id.in_(ids))
        ).all()
        for row in rows:
            conns.ingest.execute(
                sa.update(table)
                .where(table.c.id == row.id)
                .values(created=row.created - timedelta(seconds=seconds))
            )


def pending_count(dbs: Databases) -> int:
    with dbs.read() as conns:
        return submissions.pending_count(conns.ingest)


@dataclass(frozen=True)
class Ledger:
    """What the databases say was imported: enough to tell "exactly once" from "twice"."""

    statuses: dict[int, str]
    #: per submission: fingerprint_source rows, submission_result rows, submission_import rows
    provenance: dict[int, tuple[int, int, int]]
    fingerprints: int
    fingerprint_submissions: int  # sum of fingerprint.submission_count
    mbid_submissions: int  # sum of track_mbid.submission_count
    mbid_sources: int  # track_mbid_source rows
    outbox: int

    def imported(self) -> list[int]:
        return sorted(s for s, status in self.statuses.items() if status == "imported")

    def assert_each_imported_once(self, with_mbid: int) -> None:
        """Every imported submission counted once everywhere; ``with_mbid`` of them carry one."""
        imported = self.imported()
        assert {self.provenance.get(s) for s in imported} == {(1, 1, 1)}
        assert sum(n for s, row in self.provenance.items() for n in row if s not in imported) == 0
        assert self.fingerprint_submissions == len(imported)
        assert self.mbid_submissions == self.mbid_sources == with_mbid


def _counts(conn: sa.Connection, column: sa.Column[Any]) -> dict[int, int]:
    rows = conn.execute(sa.select(column, sa.func.count()).group_by(column)).all()
    return {int(k): int(n) for k, n in rows}


def ledger(dbs: Databases) -> Ledger:
    with dbs.read() as conns:
        ingest, fp = conns.ingest, conns.fingerprint
        statuses = {
            int(i): str(s)
            for i, s in ingest.execute(sa.select(t.submission.c.id, t.submission.c.status))
        }
        sources = _counts(ingest, t.fingerprint_source.c.submission_id)
        results = _counts(ingest, t.submission_result.c.submission_id)
        imports = _counts(fp, t.submission_import.c.submission_id)
        total = sa.func.coalesce(sa.func.sum(t.fingerprint.c.submission_count), 0)
        return Ledger(
            statuses=statuses,
            provenance={
                s: (sources.get(s, 0), results.get(s, 0), imports.get(s, 0)) for s in statuses
            },
            fingerprints=int(fp.execute(sa.select(sa.func.count(t.fingerprint.c.id))).scalar_one()),
            fingerprint_submissions=int(fp.execute(sa.select(total)).scalar_one()),
            mbid_submissions=int(
                fp.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(t.track_mbid.c.submission_count), 0))
                ).scalar_one()
            ),
            mbid_sources=int(
                ingest.execute(sa.select(sa.func.count(t.track_mbid_source.c.id))).scalar_one()
            ),
            outbox=int(
                fp.execute(sa.select(sa.func.count()).select_from(t.index_outbox)).scalar_one()
            ),
        )


def corpus_recordings(vectors: Any, count: int) -> list[npt.NDArray[np.uint32]]:
    """``count`` distinct real recordings of at least 120 s: full 120 s fingerprints of the
    dev corpus (about 950 items each), so a submitted length of 120 s is the truth."""
    names = sorted(n for n in vectors["fingerprints"] if n.endswith("#120"))
    full = [items for items in (corpus_items(vectors, n) for n in names) if items.size >= 900]
    assert len(full) >= count
    return full[:count]


def make_worker(
    h: Harness,
    queue: SubmissionQueue | None = None,
    dbs: Databases | None = None,
    **kwargs: Any,
) -> Worker:
    """A worker on the harness's index with test-sized waits."""
    dbs = dbs or h.dbs
    kwargs.setdefault("min_idle", 0.05)
    kwargs.setdefault("max_idle", 0.2)
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("pause_max", 0.05)
    return Worker(dbs, h.searcher, queue or TableQueue(dbs), **kwargs)


@dataclass
class Batch:
    ids: list[int]
    with_mbid: int
    distinct: int


def submit_batch(h: Harness, recordings: list[npt.NDArray[np.uint32]], repeats: int = 2) -> Batch:
    """Each recording ``repeats`` times in a row (same MBID: concurrent importers contend for
    its locks), plus one submission with nothing to link (skipped)."""
    ids = []
    for i, items in enumerate(recordings):
        for _ in range(repeats):
            ids.append(h.submit(items, 120, mbid=uuid.UUID(int=i + 1)))
    ids.append(h.submit(recordings[0], 120))
    return Batch(ids, with_mbid=len(recordings) * repeats, distinct=len(recordings))


def assert_all_imported(dbs: Databases, batch: Batch) -> Ledger:
    found = ledger(dbs)
    assert pending_count(dbs) == 0
    assert found.statuses[batch.ids[-1]] == "skipped"
    assert found.imported() == sorted(batch.ids[:-1])
    found.assert_each_imported_once(batch.with_mbid)
    assert found.fingerprints == batch.distinct  # repeats reused the stored fingerprint
    assert found.outbox == 0  # every new fingerprint reached the index
    return found


def dead_index_searcher() -> Searcher:
    """A searcher whose index server is not there (close its client afterwards)."""
    return Searcher(HttpIndexClient(f"http://127.0.0.1:{free_port()}", timeout=2), INDEX_NAME)


@dataclass
class StopDuringSearch(Searcher):
    """A searcher during whose first search SIGTERM "arrives" (the worker is asked to stop)."""

    worker: Worker | None = None

    def search(self, *args: Any, **kwargs: Any) -> Any:
        if self.worker is not None:
            self.worker.request_stop()
        return super().search(*args, **kwargs)


class FaultySearcher(Searcher):
    """A searcher that fails with an error of the submission's own (not an outage)."""

    def search(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("this fingerprint breaks the matcher")


def faulty_searcher(harness: Harness) -> FaultySearcher:
    return FaultySearcher(harness.searcher.index, INDEX_NAME)
