"""The submission queue: one interface, two backends.

``/v2/submit`` commits a ``submission`` row and its ``pending_submission`` row, then calls
:meth:`SubmissionQueue.publish` with the new ids. The importer (:mod:`earmark.importer.worker`)
fetches :class:`Delivery` objects, imports a batch of them in one database transaction and
settles each: ``ack`` once the outcome is committed, ``retry`` to see it again later, ``fail``
once the submission is recorded as ``failed``.

- :class:`~earmark.importer.table_queue.TableQueue` (embedded default, also fine on
  PostgreSQL): the ``pending_submission`` table is the queue; ``publish`` only wakes a waiting
  fetch in this process.
- :class:`~earmark.importer.nats_queue.NatsQueue` (production): a NATS JetStream work queue;
  the ``pending_submission`` rows double as an outbox that the worker re-publishes when a
  message was lost (see docs/queue.md).

Both backends deliver *at least once*: a redelivered submission whose import was committed
comes back as ``already`` from the decision procedure and is acknowledged without being counted
again.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from earmark.db.engine import Connections, Databases
from earmark.errors import EarmarkError


class QueueError(EarmarkError):
    """The queue cannot be reached (NATS down, stream missing...)."""

    exit_code = 3


@dataclass(frozen=True)
class RetryPolicy:
    """When a submission is tried again.

    ``backoff[n-1]`` is the wait after the n-th failed attempt (the last value repeats);
    ``busy_delay`` the wait after a ``busy`` outcome (another importer holds a lock on the same
    fingerprint or MBID: not an attempt).
    """

    backoff: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0)
    busy_delay: float = 1.0

    def __post_init__(self) -> None:
        if not self.backoff or min(self.backoff) < 0 or self.busy_delay < 0:
            raise ValueError("retry delays must be non-negative, with at least one backoff step")

    def after_attempt(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
        return self.backoff[min(max(attempts, 1), len(self.backoff)) - 1]


class Delivery(ABC):
    """One queue message: one submission to import, to be settled exactly once."""

    #: The submission; for the table backend only known once :meth:`claim` found a row.
    submission_id: int | None = None
    #: True when this submission was handed out before (a retry or a redelivery).
    redelivered: bool = False

    @property
    def last(self) -> bool:
        """True when the queue will not deliver this message again (its last delivery)."""
        return False

    @abstractmethod
    def claim(self, conns: Connections) -> int | None:
        """Inside the import transaction: the submission id to import, or None for nothing.

        The table backend locks a pending row here (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL), so concurrent importers take disjoint rows; a message backend already
        carries its id.
        """

    @abstractmethod
    async def ack(self) -> None:
        """The submission's final state is committed: never deliver it again."""

    @abstractmethod
    async def retry(self, delay: float) -> None:
        """Deliver it again in ``delay`` seconds (nothing was committed for it)."""

    @abstractmethod
    async def fail(self) -> None:
        """The submission was committed as ``failed``: drop the message."""


class SubmissionQueue(ABC):
    """Where submission ids wait for the importer."""

    #: Backend name for logs and metrics ("table", "nats").
    name: str = ""

    async def start(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Connect and create what the backend needs (idempotent)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; unsettled deliveries come back (redelivery or the table)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def publish(self, ids: Sequence[int]) -> int:
        """Announce committed submissions; returns how many new messages the queue stored.

        Best effort: a failure is logged, never raised. The ``pending_submission`` rows were
        committed first, so a submission whose message was lost is still imported (the table
        backend reads the table; the NATS backend re-publishes stale rows).
        """

    @abstractmethod
    async def fetch(self, limit: int, wait: float) -> list[Delivery]:
        """Up to ``limit`` deliveries, waiting at most ``wait`` seconds for the first one.

        Raises :class:`QueueError` when the queue cannot be reached.
        """

    def claim(self, conns: Connections, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Inside one import transaction: claim a group of deliveries at once; returns those
        that hold a submission, in order (the others have nothing to import)."""
        return [d for d in deliveries if d.claim(conns) is not None]

    async def republish_stale(self, dbs: Databases) -> int:
        """Re-announce submissions pending for long (an outbox sweep); returns how many
        messages were stored. The table backend has nothing to do: the table is the queue."""
        return 0


def set_event_threadsafe(
    loop: asyncio.AbstractEventLoop | None, event: asyncio.Event | None
) -> None:
    """Set ``event`` (bound to ``loop``) from any thread; nothing if the loop is gone."""
    if loop is None or event is None or loop.is_closed():
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        event.set()
    else:
        loop.call_soon_threadsafe(event.set)
