"""The NATS JetStream backend of the submission queue (production).

- **Stream** ``<nats_stream>`` on subjects ``<nats_stream>.>``, work-queue retention (a message
  is deleted once acknowledged or terminated), file storage, and a duplicate window: each
  submission is published with ``Nats-Msg-Id: submission-<id>``, so publishing the same id
  again within the window stores nothing.
- **Consumer**: one durable pull consumer (``importer``) shared by every importer process,
  explicit acks, ``max_deliver`` = ``queue_max_deliveries``, and a growing backoff between
  deliveries that were never acknowledged (a crashed or hung importer; the first step is the
  ack wait). A worker tells the server it is still busy with a fetched batch (``+WPI``) every
  third of the ack wait, so a long batch is not redelivered under its feet.
- **Settling**: ``ack`` after the import committed; ``retry`` naks with a delay, except on the
  last delivery, where the message is re-published under a fresh id and acknowledged (a
  ``busy`` submission must not run out of deliveries); ``fail`` terminates the message after the
  submission was committed as ``failed``.
- **Outbox**: ``pending_submission`` rows are committed before the message is published, so a
  message lost to a NATS outage at submit time is recovered by :meth:`NatsQueue.republish_stale`,
  which re-publishes submissions pending for longer than ``republish_after`` (docs/queue.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from datetime import timedelta

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError

from earmark.db import submissions
from earmark.db.engine import Connections, Databases, read_connection
from earmark.importer.queue import Delivery, QueueError, SubmissionQueue

log = logging.getLogger(__name__)

MSG_ID_PREFIX = "submission-"
CONSUMER = "importer"
#: JetStream's error code for "stream name already in use with a different configuration".
_STREAM_CONFIG_DIFFERS = 10058
#: nats-py refuses a fetch without a positive timeout.
_MIN_FETCH_WAIT = 0.05
#: The longest wait between two deliveries of a message nobody acknowledged.
_MAX_BACKOFF = 600.0

_NATS_ERRORS = (nats.errors.Error, OSError)


def msg_id(submission_id: int) -> str:
    """The deduplication id of a submission's message."""
    return f"{MSG_ID_PREFIX}{submission_id}"


class NatsQueue(SubmissionQueue):
    """Submission ids in a JetStream work-queue stream, read by one durable pull consumer."""

    name = "nats"

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        max_deliveries: int = 5,
        ack_wait: float = 30.0,
        duplicate_window: float = 120.0,
        republish_after: float = 900.0,
        republish_batch: int = 1000,
        consumer: str = CONSUMER,
        timeout: float = 5.0,
        connect_attempts: int = 3,
        reconnect_wait: float = 1.0,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        if ack_wait <= 0:
            raise ValueError("ack_wait must be positive")
        self.servers = [u.strip() for u in url.split(",") if u.strip()]
        self.stream = stream
        self.subject = f"{stream}.submission"
        self.consumer = consumer
        self.max_deliveries = max_deliveries
        self.ack_wait = ack_wait
        self.duplicate_window = duplicate_window
        self.republish_after = republish_after
        self.republish_batch = republish_batch
        self.timeout = timeout
        self.connect_attempts = max(1, connect_attempts)
        self.reconnect_wait = reconnect_wait
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._outstanding: set[NatsDelivery] = set()

    # --- configuration ------------------------------------------------------------------

    def stream_config(self) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.stream,
            subjects=[f"{self.stream}.>"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=self.duplicate_window,
        )

    def backoff(self) -> list[float]:
        """Waits for an acknowledgement before each redelivery (JetStream wants fewer steps
        than deliveries, and uses the first step as the ack wait)."""
        return [
            min(self.ack_wait * 2**i, max(_MAX_BACKOFF, self.ack_wait))
            for i in range(self.max_deliveries - 1)
        ]

    def consumer_config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.consumer,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliveries,
            backoff=self.backoff() or None,
            filter_subject=self.subject,
        )

    # --- connection ---------------------------------------------------------------------

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise QueueError("the NATS queue is not started")
        return self._js

    async def start(self) -> None:
        """Connect and create (or update) the stream; idempotent."""
        if self._nc is not None and not self._nc.is_closed:
            return
        try:
            nc = await nats.connect(
                servers=self.servers,
                name="earmark",
                connect_timeout=self.timeout,
                max_reconnect_attempts=self.connect_attempts,
                reconnect_time_wait=self.reconnect_wait,
                error_cb=_log_error,
                disconnected_cb=_log_disconnected,
                reconnected_cb=_log_reconnected,
            )
        except (*_NATS_ERRORS, TimeoutError) as exc:
            servers = ", ".join(self._safe_servers())
            raise QueueError(f"cannot connect to NATS at {servers}: {exc}") from exc
        # Once connected, never give up reconnecting: an importer outlives NATS restarts.
        nc.options["max_reconnect_attempts"] = -1
        self._nc, self._js = nc, nc.jetstream(timeout=self.timeout)
        try:
            await self._ensure_stream()
        except BaseException:
            await self.close()
            raise

    def _safe_servers(self) -> list[str]:
        """Server URLs without credentials, for messages."""
        return [s.rpartition("@")[2] for s in self.servers]

    async def _ensure_stream(self) -> None:
        config = self.stream_config()
        try:
            await self.jetstream.add_stream(config)
        except BadRequestError as exc:
            if exc.err_code != _STREAM_CONFIG_DIFFERS:
                raise QueueError(f"cannot create stream {self.stream}: {exc.description}") from exc
            try:
                await self.jetstream.update_stream(config)
            except nats.errors.Error as update_exc:
                raise QueueError(
                    f"stream {self.stream} exists and cannot be updated "
                    f"to this configuration: {update_exc}"
                ) from update_exc
        except _NATS_ERRORS as exc:
            raise QueueError(f"cannot create stream {self.stream}: {exc}") from exc

    async def close(self) -> None:
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive_task
            self._keepalive_task = None
        self._outstanding.clear()
        if self._sub is not None:
            with contextlib.suppress(*_NATS_ERRORS):
                await self._sub.unsubscribe()
            self._sub = None
        if self._nc is not None:
            with contextlib.suppress(*_NATS_ERRORS):
                await self._nc.close()
            self._nc = self._js = None

    # --- publishing ---------------------------------------------------------------------

    async def publish(self, ids: Sequence[int]) -> int:
        stored = 0
        try:
            await self.start()
            for sid in ids:
                stored += await self._publish_one(sid, msg_id(sid))
        except (QueueError, *_NATS_ERRORS, TimeoutError) as exc:
            log.warning(
                "could not publish %d submission(s) to NATS (%s); they stay pending and are "
                "re-published by the importer",
                len(ids) - stored,
                exc,
            )
        return stored

    async def _publish_one(self, submission_id: int, dedupe_id: str) -> int:
        ack = await self.jetstream.publish(
            self.subject,
            str(submission_id).encode(),
            timeout=self.timeout,
            stream=self.stream,
            headers={"Nats-Msg-Id": dedupe_id},
        )
        return 0 if ack.duplicate else 1

    async def republish_stale(self, dbs: Databases) -> int:
        ids = await asyncio.to_thread(self._stale_ids, dbs)
        if not ids:
            return 0
        stored = await self.publish(ids)
        if stored:
            log.info(
                "re-published %d submission(s) pending for over %gs", stored, self.republish_after
            )
        return stored

    def _stale_ids(self, dbs: Databases) -> list[int]:
        with read_connection(dbs.ingest) as conn:
            return submissions.pending_ids(
                conn,
                older_than=timedelta(seconds=self.republish_after),
                limit=self.republish_batch,
            )

    # --- consuming ----------------------------------------------------------------------

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            await self.start()
            try:
                # Creates the durable consumer, or updates it to this configuration.
                await self.jetstream.add_consumer(self.stream, self.consumer_config())
                self._sub = await self.jetstream.pull_subscribe_bind(
                    consumer=self.consumer, stream=self.stream
                )
            except _NATS_ERRORS as exc:
                raise QueueError(f"cannot consume from stream {self.stream}: {exc}") from exc
            self._keepalive_task = asyncio.create_task(self._keepalive())
        return self._sub

    async def fetch(self, limit: int, wait: float) -> list[Delivery]:
        sub = await self._subscription()
        try:
            messages = await sub.fetch(limit, timeout=max(wait, _MIN_FETCH_WAIT))
        except TimeoutError:
            return []
        except _NATS_ERRORS as exc:
            raise QueueError(f"cannot fetch from stream {self.stream}: {exc}") from exc
        deliveries: list[Delivery] = []
        for message in messages:
            try:
                submission_id = int(message.data)
            except ValueError:
                log.error("dropping a malformed queue message: %r", message.data[:100])
                with contextlib.suppress(*_NATS_ERRORS):
                    await message.term()
                    await self._flush()
                continue
            delivery = NatsDelivery(self, message, submission_id)
            self._outstanding.add(delivery)
            deliveries.append(delivery)
        return deliveries

    async def _keepalive(self) -> None:
        """Tell the server the fetched, unsettled messages are still being worked on."""
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            for delivery in list(self._outstanding):
                with contextlib.suppress(*_NATS_ERRORS):
                    await delivery.message.in_progress()

    async def _flush(self) -> None:
        """Wait until the server has read what was sent (term and nak are fire-and-forget)."""
        if self._nc is not None:
            await self._nc.flush(timeout=max(1, int(self.timeout)))

    def _settled(self, delivery: NatsDelivery) -> None:
        self._outstanding.discard(delivery)


class NatsDelivery(Delivery):
    def __init__(self, queue: NatsQueue, message: Msg, submission_id: int) -> None:
        self._queue = queue
        self.message = message
        self.submission_id = submission_id
        metadata = message.metadata
        self.delivery_count = metadata.num_delivered
        self.stream_sequence = metadata.sequence.stream
        self.redelivered = self.delivery_count > 1

    @property
    def last(self) -> bool:
        return self.delivery_count >= self._queue.max_deliveries

    def claim(self, conns: Connections) -> int | None:
        return self.submission_id

    async def ack(self) -> None:
        await self._settle(self._ack())

    async def _ack(self) -> None:
        await self.message.ack_sync(timeout=self._queue.timeout)

    async def retry(self, delay: float) -> None:
        await self._settle(self._requeue() if self.last else self._nak(delay))

    async def _nak(self, delay: float) -> None:
        await self.message.nak(delay=delay)
        await self._queue._flush()

    async def _requeue(self) -> None:
        # The server would not deliver this message again: publish it anew (a fresh id, since
        # the original may still be inside the duplicate window), then drop the old one.
        assert self.submission_id is not None
        await self._queue._publish_one(
            self.submission_id, f"{msg_id(self.submission_id)}.{self.stream_sequence}"
        )
        await self._ack()

    async def fail(self) -> None:
        await self._settle(self._term())

    async def _term(self) -> None:
        await self.message.term()
        await self._queue._flush()

    async def _settle(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except (*_NATS_ERRORS, TimeoutError) as exc:
            raise QueueError(
                f"cannot settle the message of submission {self.submission_id}: {exc}"
            ) from exc
        finally:
            self._queue._settled(self)


async def _log_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc or type(exc).__name__)


async def _log_disconnected() -> None:
    log.warning("NATS: disconnected")


async def _log_reconnected() -> None:
    log.info("NATS: reconnected")
