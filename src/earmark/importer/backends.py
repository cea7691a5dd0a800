"""The submission queue chosen by the ``queue`` setting (for the API, the importer, ``serve``)."""

from __future__ import annotations

from earmark.db.engine import Databases
from earmark.importer.nats_queue import NatsQueue
from earmark.importer.queue import SubmissionQueue
from earmark.importer.table_queue import TableQueue
from earmark.settings import Settings


def open_queue(settings: Settings, dbs: Databases) -> SubmissionQueue:
    """The configured queue, not yet started (``await queue.start()``, or ``async with``)."""
    if settings.queue == "nats":
        return NatsQueue(
            str(settings.nats_url),
            settings.nats_stream,
            max_deliveries=settings.queue_max_deliveries,
        )
    return TableQueue(dbs)
