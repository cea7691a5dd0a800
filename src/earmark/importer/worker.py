"""The importer worker loop (reference §9.2): queue → one transaction per batch → ack.

Each pass fetches up to ``batch_size`` deliveries and imports them as one group in one
``dbs.write()`` transaction: claim the submissions (the table backend locks their rows), run
:func:`earmark.importer.decide.import_group`, commit; only then settle each delivery. If the
group fails with an error that is not transient, nothing of it was committed and the batch is
imported again one delivery per transaction (claim,
:func:`~earmark.importer.decide.import_submission`, commit, settle), so the error lands on its
own submission. Settling:

- ``imported`` / ``skipped`` / ``already`` / ``missing``: ack;
- ``busy`` (another importer holds a lock on the same fingerprint or MBID): retry after a short
  delay, not counted as an attempt;
- an exception: the transaction rolled back; the error is counted on the submission
  (:func:`~earmark.db.submissions.record_error`, in a new transaction) and the submission is
  retried with backoff, until ``max_attempts`` errors make it ``failed`` with the error as its
  reason, and the message is dropped. Deliveries are not attempts: a NATS message on its last
  delivery is re-published. A *transient* error (the database or the index unreachable, a
  timeout) costs no attempt at all: the submission is retried and the worker pauses, handing
  the rest of the batch back untouched, so an outage never fails a submission.

After each batch, new fingerprints are sent to the index (:func:`earmark.indexsync.flush_outbox`).
Between passes the worker waits for work between ``min_idle`` and ``max_idle`` seconds (times
1.3 after an empty pass, divided by 1.3 after work), woken early by a new message (NATS) or by
``publish`` in the same process (table). ``request_stop`` (SIGTERM/SIGINT) lets the current
submission finish, commits the group so far, hands the rest of the batch back unacknowledged,
and returns from :meth:`Worker.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import sqlalchemy as sa

from earmark.db import submissions
from earmark.db.engine import Databases, read_connection
from earmark.importer.decide import import_group, import_submission
from earmark.importer.outcome import ImportOutcome
from earmark.importer.queue import (
    Delivery,
    QueueError,
    RetryPolicy,
    SubmissionQueue,
    set_event_threadsafe,
)
from earmark.indexsync import flush_outbox
from earmark.search import Searcher, SearchUnavailableError

log = logging.getLogger(__name__)

IDLE_FACTOR = 1.3
_REASON_MAX = 500

ErrorState = Literal["retry", "failed", "done"]


@dataclass
class ImporterStats:
    """Counters since the worker started (exported as Prometheus counters later)."""

    imported: int = 0
    skipped: int = 0
    already: int = 0
    missing: int = 0
    busy: int = 0
    failed: int = 0
    errors: int = 0
    redelivered: int = 0
    republished: int = 0
    new_fingerprints: int = 0
    new_tracks: int = 0
    batches: int = 0

    def count(self, outcome: ImportOutcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        self.new_fingerprints += outcome.new_fingerprint
        self.new_tracks += outcome.new_track

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def is_transient(exc: BaseException) -> bool:
    """Errors that say nothing about the submission: the database or the index is away."""
    if isinstance(exc, SearchUnavailableError | sa.exc.TimeoutError | sa.exc.DisconnectionError):
        return True
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True  # lost connection, statement timeout, deadlock, SQLite busy
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


def describe(exc: BaseException) -> str:
    """A one-line reason for ``submission.reason`` (no SQL, no parameters)."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    text = " ".join(str(cause).split())
    reason = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    return reason[:_REASON_MAX]


class Worker:
    """Imports submissions from one queue; see the module docstring."""

    def __init__(
        self,
        dbs: Databases,
        searcher: Searcher,
        queue: SubmissionQueue,
        *,
        batch_size: int = 100,
        max_attempts: int = 5,
        retry: RetryPolicy | None = None,
        min_idle: float = 1.0,
        max_idle: float = 10.0,
        pause_max: float = 30.0,
        republish_interval: float = 60.0,
    ) -> None:
        if batch_size < 1 or max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be at least 1")
        if not 0 < min_idle <= max_idle:
            raise ValueError("need 0 < min_idle <= max_idle")
        self.dbs = dbs
        self.searcher = searcher
        self.queue = queue
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.retry = retry or RetryPolicy()
        self.min_idle = min_idle
        self.max_idle = max_idle
        self.pause_max = pause_max
        self.republish_interval = republish_interval
        self.stats = ImporterStats()
        #: Seconds the next fetch may wait for work (the adaptive idle sleep).
        self.idle = min_idle
        #: Seconds to hold off after a transient error (0: none).
        self.pause = 0.0
        self._stop_requested = False
        self._stop_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[ImporterStats] | None = None
        self._next_republish = 0.0
        self._flush_needed = True  # a crash may have left outbox rows behind
        self._transient_error = False  # in the current batch

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the current submission; safe from any thread."""
        self._stop_requested = True
        set_event_threadsafe(self._loop, self._stop_event)

    def start(self) -> asyncio.Task[ImporterStats]:
        """Run in the background of the current event loop (``earmark serve``)."""
        if self._task is None or self._task.done():
            self._stop_requested = False
            if self._stop_event is not None:
                self._stop_event.clear()
            self._task = asyncio.create_task(self.run(), name="earmark-importer")
        return self._task

    async def stop(self) -> ImporterStats:
        """Stop the background run started by :meth:`start` and wait for it."""
        self.request_stop()
        if self._task is not None:
            await self._task
        return self.stats

    def _bind(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._stop_event is None or self._loop is not loop:
            self._loop, self._stop_event = loop, asyncio.Event()
            if self._stop_requested:
                self._stop_event.set()
        return self._stop_event

    # --- loops --------------------------------------------------------------------------

    async def run(self) -> ImporterStats:
        """Import until :meth:`request_stop`; queue outages are logged and waited out."""
        self._bind()
        await self.queue.start()
        log.info("importer started (queue: %s, batch: %d)", self.queue.name, self.batch_size)
        while not self.stopping:
            await self._republish_if_due()
            try:
                handled = await self.run_once(wait=self.idle)
            except QueueError as exc:
                log.warning("queue unavailable: %s", exc)
                self._pause_more()
                handled = 0
            if handled:
                self.idle = max(self.min_idle, self.idle / IDLE_FACTOR)
            else:
                self.idle = min(self.max_idle, self.idle * IDLE_FACTOR)
            await self._sleep(self.pause)
        log.info("importer stopped: %s", self.stats.as_dict())
        return self.stats

    async def run_once(self, wait: float = 0.0) -> int:
        """One pass: fetch (waiting up to ``wait`` s for work) and import one batch.

        Returns how many submissions were handled (whatever their outcome).
        """
        self._bind()
        deliveries = await self._fetch(wait)
        if not deliveries:
            return 0
        return await self._process(deliveries)

    async def run_until_idle(self, wait: float = 1.0) -> ImporterStats:
        """Import until a fetch finds nothing for ``wait`` seconds (``--until-idle``)."""
        self._bind()
        await self.queue.start()
        while not self.stopping:
            await self._republish_if_due()
            if not await self.run_once(wait=wait):
                break
            await self._sleep(self.pause)
        return self.stats

    async def drain(self, timeout: float = 60.0, wait: float = 0.5) -> ImporterStats:
        """Import until no submission is pending in the database (the queue's truth).

        Unlike :meth:`run_until_idle` this also waits out retries and redeliveries; raises
        :class:`TimeoutError` when submissions are still pending after ``timeout`` seconds.
        """
        self._bind()
        await self.queue.start()
        deadline = time.monotonic() + timeout
        busy = True  # the last pass found work: look again without waiting
        while not self.stopping:
            await self._republish_if_due()
            if not busy:
                left = await asyncio.to_thread(self._pending_count)
                if left == 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{left} submission(s) still pending after {timeout:g}s")
            busy = await self.run_once(wait=0.0 if busy else wait) > 0
            if busy:
                await self._sleep(self.pause)
        return self.stats

    # --- one batch ----------------------------------------------------------------------

    async def _fetch(self, wait: float) -> list[Delivery]:
        """The next deliveries, or none when a stop is requested while waiting."""
        stop = self._bind()
        if self.stopping:
            return []
        fetching = asyncio.ensure_future(self.queue.fetch(self.batch_size, wait))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetching, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not fetching.done():
                fetching.cancel()
                await asyncio.wait({fetching})
        if fetching.cancelled():
            return []
        deliveries = fetching.result()
        if stop.is_set():
            await self._release(deliveries, 0.0)
            return []
        return deliveries

    async def _process(self, deliveries: Sequence[Delivery]) -> int:
        self._transient_error = False
        handled = await self._process_group(deliveries) if len(deliveries) > 1 else None
        if handled is None:
            handled = await self._process_one_by_one(deliveries)
        self.stats.batches += 1
        await self._flush_index()
        return handled

    async def _process_group(self, deliveries: Sequence[Delivery]) -> int | None:
        """Import the batch in one transaction, then settle it; None: it failed, and nothing
        of it was committed (the caller imports it one by one to find the culprit)."""
        try:
            claimed, outcomes = await asyncio.to_thread(self._import_group, deliveries)
        except Exception as exc:
            if not is_transient(exc):
                log.warning(
                    "import group of %d failed (%s), importing one by one",
                    len(deliveries),
                    describe(exc),
                )
                return None
            self.stats.errors += 1
            self._transient_error = True
            self._pause_more()
            log.warning("import group: %s (retrying in %gs)", describe(exc), self.pause)
            await self._release(deliveries, self.retry.after_attempt(1))
            return 1  # one attempt (the group's) was made; the batch is handed back
        # Committed: only now is any of it acknowledged.
        for delivery, outcome in zip(claimed, outcomes, strict=False):
            await self._settle_outcome(delivery, outcome)
        settled = set(map(id, claimed[: len(outcomes)]))
        await self._release([d for d in deliveries if id(d) not in settled], 0.0)
        return len(outcomes)

    def _import_group(
        self, deliveries: Sequence[Delivery]
    ) -> tuple[list[Delivery], list[ImportOutcome]]:
        with self.dbs.write() as conns:
            claimed = self.queue.claim(conns, deliveries)
            ids = [d.submission_id for d in claimed if d.submission_id is not None]
            outcomes = import_group(conns, self.searcher, ids, stop=lambda: self.stopping)
        return claimed, outcomes

    async def _process_one_by_one(self, deliveries: Sequence[Delivery]) -> int:
        handled = 0
        for position, delivery in enumerate(deliveries):
            if self.stopping or self._transient_error:
                await self._release(deliveries[position:], self.pause)
                break
            if not await self._handle(delivery):
                # Table backend: no row left to claim; the other slots would find none either.
                await self._release(deliveries[position + 1 :], 0.0)
                break
            handled += 1
        return handled

    async def _handle(self, delivery: Delivery) -> bool:
        """Import one delivery and settle it; False when it held no submission."""
        try:
            outcome = await asyncio.to_thread(self._import, delivery)
        except Exception as exc:
            if delivery.submission_id is None:
                self._log_error(None, exc)
                return False
            await self._attempt_failed(delivery, exc)
            return True
        if outcome is None:
            return False
        await self._settle_outcome(delivery, outcome)
        return True

    async def _settle_outcome(self, delivery: Delivery, outcome: ImportOutcome) -> None:
        """Count a committed outcome and settle its delivery."""
        self.pause = 0.0
        self.stats.count(outcome)
        self.stats.redelivered += delivery.redelivered
        self._flush_needed |= outcome.new_fingerprint
        if outcome.final:
            await self._settle(delivery.ack())
        else:
            await self._settle(delivery.retry(self.retry.busy_delay))

    def _import(self, delivery: Delivery) -> ImportOutcome | None:
        with self.dbs.write() as conns:
            submission_id = delivery.claim(conns)
            if submission_id is None:
                return None
            return import_submission(conns, self.searcher, submission_id)

    async def _attempt_failed(self, delivery: Delivery, exc: Exception) -> None:
        submission_id = delivery.submission_id
        assert submission_id is not None
        self.stats.errors += 1
        self._log_error(submission_id, exc)
        reason = describe(exc)
        if is_transient(exc):
            # An outage (index down, database busy) is not the submission's fault: retry it
            # without spending an attempt, as the reference does (§9.2). A NATS message on its
            # last delivery is re-published by retry(), so it is not lost either.
            await self._settle(delivery.retry(self.retry.after_attempt(1)))
            return
        try:
            state, attempts = await asyncio.to_thread(self._record_error, submission_id, reason)
        except Exception as record_exc:
            log.warning(
                "submission %d: could not record the error: %s", submission_id, describe(record_exc)
            )
            self._pause_more()
            await self._settle(delivery.retry(self.retry.after_attempt(1)))
            return
        if state == "failed":
            self.stats.failed += 1
            log.warning(
                "submission %d failed after %d attempt(s): %s", submission_id, attempts, reason
            )
            await self._settle(delivery.fail())
        elif state == "done":
            await self._settle(delivery.ack())
        else:
            await self._settle(delivery.retry(self.retry.after_attempt(attempts)))

    def _record_error(self, submission_id: int, reason: str) -> tuple[ErrorState, int]:
        """Count the failed attempt; give up at ``max_attempts``.

        Only attempts count, never deliveries: a NATS delivery count also grows when a busy or
        unprocessed message is handed back, which says nothing about the submission.
        """
        with self.dbs.write() as conns:
            conn = conns.ingest
            if submissions.record_error(conn, submission_id, reason, self.max_attempts):
                return "failed", self.max_attempts
            sub = submissions.get(conn, submission_id)
            if sub is None or sub.status != "pending":
                return "done", 0  # gone, or finished by a concurrent delivery
            return "retry", sub.attempts

    def _log_error(self, submission_id: int | None, exc: Exception) -> None:
        what = "claiming a submission" if submission_id is None else f"submission {submission_id}"
        if is_transient(exc):
            self._transient_error = True
            self._pause_more()
            log.warning("%s: %s (retrying in %gs)", what, describe(exc), self.pause)
        else:
            log.error("%s: import failed", what, exc_info=exc)

    def _pause_more(self) -> None:
        self.pause = min(self.pause_max, max(self.min_idle, self.pause * 2))

    async def _settle(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except QueueError as exc:
            # Unsettled messages come back (redelivery); the import itself is committed.
            log.warning("%s", exc)

    async def _release(self, deliveries: Sequence[Delivery], delay: float) -> None:
        """Hand back deliveries that were not worked on (not an attempt)."""
        for delivery in deliveries:
            await self._settle(delivery.retry(delay))

    async def _flush_index(self) -> None:
        if not self._flush_needed:
            return
        try:
            await asyncio.to_thread(
                flush_outbox, self.dbs, self.searcher.index, self.searcher.index_name
            )
        except Exception as exc:
            # The outbox keeps the rows; the importer's own searches scan it meanwhile.
            log.warning("could not update the fingerprint index: %s", describe(exc))
            return
        self._flush_needed = False

    # --- housekeeping -------------------------------------------------------------------

    async def _republish_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_republish:
            return
        self._next_republish = now + self.republish_interval
        try:
            self.stats.republished += await self.queue.republish_stale(self.dbs)
        except (QueueError, sa.exc.SQLAlchemyError) as exc:
            log.warning("could not re-publish stale submissions: %s", describe(exc))

    def _pending_count(self) -> int:
        with read_connection(self.dbs.ingest) as conn:
            return submissions.pending_count(conn)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short by a stop request."""
        if seconds <= 0 or self.stopping:
            return
        stop = self._bind()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
