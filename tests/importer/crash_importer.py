"""An importer process for the crash tests, killed at the worst moments.

It imports from the NATS queue like ``earmark run importer`` and kills itself with SIGKILL

- ``ack``: when its N-th acknowledgement is due: the batch holding the N-th import is committed
  (one transaction for the whole batch), its messages from the N-th on are not acknowledged;
- ``search``: at its N-th search, in the middle of an import group: the group's earlier imports
  are written but not committed, nothing of the group is acknowledged.

    python -m tests.importer.crash_importer DB_URL NATS_URL STREAM INDEX_DIR INDEX_NAME N BATCH MODE
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from earmark.db.engine import Databases
from earmark.importer.nats_queue import NatsQueue
from earmark.importer.queue import Delivery
from earmark.importer.worker import Worker
from earmark.index.client import LocalIndexClient
from earmark.index.engine import MultiIndex
from earmark.search import Match, Searcher

ACK_WAIT = 1.0


class DyingQueue(NatsQueue):
    """A NATS queue whose deliveries kill the process instead of sending the N-th ack."""

    def __init__(self, *args: Any, kill_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kill_at = kill_at
        self.acks = 0

    async def fetch(self, limit: int, wait: float) -> list[Delivery]:
        deliveries = await super().fetch(limit, wait)
        for delivery in deliveries:
            delivery.ack = self._dying(delivery.ack)  # type: ignore[method-assign,assignment]
        return deliveries

    def _dying(self, ack: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def ack_or_die() -> None:
            self.acks += 1
            if self.acks == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            await ack()

        return ack_or_die


class DyingSearcher(Searcher):
    """A searcher that kills the process at its N-th search (inside an import transaction)."""

    kill_at = 0
    searches = 0

    def search(self, *args: Any, **kwargs: Any) -> list[Match]:
        self.searches += 1
        if self.searches == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().search(*args, **kwargs)


def main(argv: list[str]) -> int:
    db_url, nats_url, stream, index_dir, index_name, kill_at, batch, mode = argv
    dbs = Databases.single(db_url)
    engine = MultiIndex(Path(index_dir))
    dying_ack = int(kill_at) if mode == "ack" else 0
    queue = DyingQueue(nats_url, stream, ack_wait=ACK_WAIT, kill_at=dying_ack)
    searcher = DyingSearcher(LocalIndexClient(engine), index_name)
    searcher.kill_at = int(kill_at) if mode == "search" else 0
    worker = Worker(
        dbs,
        searcher,
        queue,
        batch_size=int(batch),
        min_idle=0.05,
    )
    asyncio.run(worker.run_until_idle(wait=5))
    return 3  # reached only if the process was not killed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
