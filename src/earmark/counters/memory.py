"""Counters in this process's memory: the embedded service (one process serves and drains).

Counts that were never drained die with the process; nothing else can be promised without an
external store. Within the process the claim / release protocol holds: a batch that failed to
reach SQL is returned again, with its id, by the next claim.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from earmark.counters.base import (
    Batch,
    CounterKind,
    Counters,
    K,
    LookupKey,
    UserAgentKey,
)


class MemoryCounters(Counters):
    """Thread-safe counters in a dict; claims swap the dict out under the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lookups: Counter[LookupKey] = Counter()
        self._agents: Counter[UserAgentKey] = Counter()
        self._pending: dict[str, Batch[Any]] = {}

    def add(self, lookups: Mapping[LookupKey, int], agents: Mapping[UserAgentKey, int]) -> bool:
        with self._lock:
            self._lookups.update(lookups)
            self._agents.update(agents)
        return True

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
