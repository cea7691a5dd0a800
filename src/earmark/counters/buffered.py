"""Counts gathered in the process and written to Redis once a second (the web service).

Writing each request's counts to Redis costs a round trip per request, about a tenth of a
lookup's CPU. :class:`BufferedCounters` adds them up in memory instead (a dict under a lock)
and a background thread writes the sums every ``interval`` seconds in one MULTI/EXEC of
HINCRBYs (:meth:`RedisCounters.add`). A request never waits for Redis: a slow or absent Redis
no longer slows the API.

What it costs: a process that dies without its shutdown (SIGKILL, a crash of the
interpreter) loses the counts of its last ``interval`` seconds. A clean stop (:meth:`close`)
writes them. When Redis cannot be reached the sums are kept and written by a later flush; past
:data:`MAX_PENDING_KEYS` distinct counters the newest are dropped, with a warning, so an outage
cannot grow the process without bound.

Claims (the cron's drain) go to Redis after a flush of what this process holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from earmark.counters.base import Batch, Counters, LookupKey, UserAgentKey
from earmark.counters.redis_backend import RedisCounters

log = logging.getLogger(__name__)

#: Distinct counters (lookup buckets plus user agents) held while Redis is unreachable.
MAX_PENDING_KEYS = 100_000
_WARN_EVERY_S = 60.0


class BufferedCounters(Counters):
    """A :class:`RedisCounters` written every ``interval`` seconds (see the module docstring)."""

    def __init__(self, inner: RedisCounters, interval: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.inner = inner
        self.interval = interval
        self._lock = threading.Lock()
        self._lookups: Counter[LookupKey] = Counter()
        self._agents: Counter[UserAgentKey] = Counter()
        self._dropped = 0
        self._warned = -_WARN_EVERY_S
        # One flush at a time: the thread's, close()'s or a claim's.
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, lookups: Mapping[LookupKey, int], agents: Mapping[UserAgentKey, int]) -> bool:
        """Hold the counts for the next flush (always True: dropped ones are warned about)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                # Started by the first count, so a process that never counts has no thread.
                self._thread = threading.Thread(
                    target=self._run, name="earmark-counters", daemon=True
                )
                self._thread.start()
            self._merge(lookups, agents)
        if self._stop.is_set():
            self.flush()  # counted after close(): nobody else will write it
        return True

    def _merge(self, lookups: Mapping[LookupKey, int], agents: Mapping[UserAgentKey, int]) -> None:
        for key, count in lookups.items():
            self._add(self._lookups, key, count)
        for agent, count in agents.items():
            self._add(self._agents, agent, count)

    def _add(self, counts: Counter[Any], key: Any, count: int) -> None:
        if key not in counts and len(self._lookups) + len(self._agents) >= MAX_PENDING_KEYS:
            self._dropped += count
            return
        counts[key] += count

    @property
    def pending(self) -> int:
        """Distinct counters waiting for the next flush."""
        with self._lock:
            return len(self._lookups) + len(self._agents)

    def flush(self) -> bool:
        """Write what is held now; True when Redis took it (or there was nothing to write)."""
        with self._flushing:
            with self._lock:
                lookups, self._lookups = self._lookups, Counter()
                agents, self._agents = self._agents, Counter()
                dropped, self._dropped = self._dropped, 0
            if dropped:
                self._warn(f"{dropped} count(s) dropped: Redis unreachable and the buffer full")
            if not lookups and not agents:
                return True
            if self.inner.add(lookups, agents):
                return True
            with self._lock:  # kept, added to what came meanwhile, for the next flush
                self._merge(lookups, agents)
            return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # the thread must outlive any surprise, or counting stops
                log.exception("writing the request counters failed")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY_S:
            self._warned = now
            log.warning("%s (further drops are not logged for a minute)", message)

    def close(self) -> None:
        """Stop the thread and write what is left (a last attempt when Redis is away)."""
        with self._lock:  # a count racing with close either sees the stop or is flushed here
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def claim_lookups(self) -> list[Batch[LookupKey]]:
        self.flush()
        return self.inner.claim_lookups()

    def claim_user_agents(self) -> list[Batch[UserAgentKey]]:
        self.flush()
        return self.inner.claim_user_agents()

    def release(self, batch: Batch[Any]) -> None:
        self.inner.release(batch)
