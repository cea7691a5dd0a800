"""Counters in this process's memory: the embedded service (one process serves and drains).

Counts that were never drained die with the process; nothing else can be promised without an
external store. Within the process the claim / release protocol holds: a batch that failed to
reach SQL is returned again, with its id, by the next claim.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from typing import Any

from earmark.counters.base import (
    Batch,
    CounterKind,
    Counters,
    K,
    LookupKey,
    UserAgentKey,
    request_keys,
)


class MemoryCounters(Counters):
    """Thread-safe counters in a dict; claims swap the dict out under the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lookups: Counter[LookupKey] = Counter()
        self._agents: Counter[UserAgentKey] = Counter()
        self._pending: dict[str, Batch[Any]] = {}

    def count_request(
        self,
        application_id: int,
        *,
        hits: int = 0,
        misses: int = 0,
        user_agent: str | None = None,
        ip: str | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        lookups, agent = request_keys(
            application_id, hits=hits, misses=misses, user_agent=user_agent, ip=ip, at=at
        )
        with self._lock:
            for key, count in lookups:
                self._lookups[key] += count
            if agent is not None:
                self._agents[agent] += 1

    def claim_lookups(self) -> list[Batch[LookupKey]]:
        with self._lock:
            fresh, self._lookups = self._lookups, Counter()
            return self._claim("lookups", dict(fresh))

    def claim_user_agents(self) -> list[Batch[UserAgentKey]]:
        with self._lock:
            fresh, self._agents = self._agents, Counter()
            return self._claim("user_agents", dict(fresh))

    def _claim(self, kind: CounterKind, fresh: dict[K, int]) -> list[Batch[K]]:
        batches: list[Batch[K]] = [b for b in self._pending.values() if b.kind == kind]
        if fresh:
            batch = Batch(uuid.uuid4().hex, kind, fresh)
            self._pending[batch.id] = batch
            batches.append(batch)
        return batches

    def release(self, batch: Batch[Any]) -> None:
        with self._lock:
            self._pending.pop(batch.id, None)
