"""The table backend of the submission queue: ``pending_submission`` is the queue.

The embedded default (one SQLite file), and usable on PostgreSQL with several importer
processes: each import transaction takes one pending row with
:func:`earmark.db.submissions.lock_pending` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
concurrent importers work on disjoint rows, as the reference importer does (§9.2).

``publish`` wakes a fetch waiting in this process, so a submission made through the API of the
same process (``earmark serve``) is imported at once; importers in other processes see it at
their next poll (at most the idle sleep, 10 s). A row to retry later (``busy``, or a failed
attempt waiting for its backoff) is remembered in this process and skipped until its time;
a restart forgets that and simply tries it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence

import sqlalchemy as sa

from earmark.db import submissions
from earmark.db.engine import Connections, Databases, read_connection
from earmark.importer.queue import Delivery, QueueError, SubmissionQueue, set_event_threadsafe


class TableQueue(SubmissionQueue):
    """The ``pending_submission`` table as a queue, polled and woken in-process."""

    name = "table"

    def __init__(self, dbs: Databases) -> None:
        self._dbs = dbs
        self._lock = threading.Lock()
        #: submission id → monotonic time from which it may be claimed again
        self._deferred: dict[int, float] = {}
        #: ids handed back with retry(): their next claim is a redelivery
        self._retried: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    # --- waking -------------------------------------------------------------------------

    def _wakeup_event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._loop, self._event = loop, asyncio.Event()
        return self._event

    def notify(self) -> None:
        """Wake a waiting :meth:`fetch`; safe to call from any thread."""
        set_event_threadsafe(self._loop, self._event)

    async def publish(self, ids: Sequence[int]) -> int:
        """The rows are already committed: only wake the importer of this process."""
        if ids:
            self.notify()
        return len(ids)

    # --- fetching -----------------------------------------------------------------------

    async def fetch(self, limit: int, wait: float) -> list[Delivery]:
        event = self._wakeup_event()
        event.clear()  # before looking, so a publish during the look is not missed
        available = await asyncio.to_thread(self._available, limit)
        if available == 0 and wait > 0:
            due = self._next_due()
            timeout = wait if due is None else min(wait, due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
            available = await asyncio.to_thread(self._available, limit)
        return [TableDelivery(self) for _ in range(available)]

    def _available(self, limit: int) -> int:
        """How many pending rows this process could claim now (at most ``limit``)."""
        skip = self.skipped()
        try:
            with read_connection(self._dbs.ingest) as conn:
                ids = submissions.pending_ids(conn, older_than=None, limit=limit + len(skip))
        except sa.exc.DBAPIError as exc:
            raise QueueError(f"cannot read the pending_submission table: {exc.orig}") from exc
        return min(limit, sum(1 for i in ids if i not in skip))

    def claim(self, conns: Connections, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """One ``FOR UPDATE SKIP LOCKED`` for the whole group (a row this transaction locked is
        not skipped by its own next claim, so the rows are taken together)."""
        skip = self.skipped()
        ids = [
            sid
            for sid in submissions.lock_pending(conns.ingest, len(skip) + len(deliveries))
            if sid not in skip
        ]
        claimed: list[Delivery] = []
        for delivery, sid in zip(deliveries, ids, strict=False):
            delivery.submission_id = sid
            delivery.redelivered = self._take_retried(sid)
            claimed.append(delivery)
        for delivery in deliveries[len(claimed) :]:
            delivery.submission_id = None
        return claimed

    # --- deferred rows ------------------------------------------------------------------

    def skipped(self) -> set[int]:
        """Ids this process must not claim yet (waiting for their retry time)."""
        now = time.monotonic()
        with self._lock:
            for sid in [s for s, due in self._deferred.items() if due <= now]:
                del self._deferred[sid]
            return set(self._deferred)

    def _next_due(self) -> float | None:
        """Seconds until the first deferred row may be claimed again, if any."""
        with self._lock:
            if not self._deferred:
                return None
            return max(0.0, min(self._deferred.values()) - time.monotonic())

    def _defer(self, submission_id: int, delay: float) -> None:
        with self._lock:
            self._retried.add(submission_id)
            if delay > 0:
                self._deferred[submission_id] = time.monotonic() + delay

    def _settle(self, submission_id: int) -> None:
        with self._lock:
            self._deferred.pop(submission_id, None)
            self._retried.discard(submission_id)

    def _take_retried(self, submission_id: int) -> bool:
        with self._lock:
            if submission_id in self._retried:
                self._retried.discard(submission_id)
                return True
            return False


class TableDelivery(Delivery):
    """A claim on "the oldest pending row nobody else holds", resolved inside the import
    transaction (so the row lock lasts exactly as long as the import)."""

    def __init__(self, queue: TableQueue) -> None:
        self._queue = queue

    def claim(self, conns: Connections) -> int | None:
        self.submission_id = None
        skip = self._queue.skipped()
        for sid in submissions.lock_pending(conns.ingest, len(skip) + 1):
            if sid not in skip:
                self.submission_id = sid
                self.redelivered = self._queue._take_retried(sid)
                return sid
        return None

    async def ack(self) -> None:
        # The import transaction removed the pending row; forget any deferral.
        if self.submission_id is not None:
            self._queue._settle(self.submission_id)

    async def retry(self, delay: float) -> None:
        if self.submission_id is not None:
            self._queue._defer(self.submission_id, delay)

    async def fail(self) -> None:
        # mark_failed/record_error removed the pending row in their transaction.
        if self.submission_id is not None:
            self._queue._settle(self.submission_id)
