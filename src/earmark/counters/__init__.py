"""Request counters (lookups, user agents) and missing-MBID reports: in memory or in Redis.

The web service counts through :class:`Counters` and reports through :class:`MissingMbids`;
the cron drains both (:mod:`earmark.counters.drain`, :mod:`earmark.cron`). Build them once per
process with :func:`open_backends` and share the handle between the web app and an in-process
cron: with the memory backend they must be the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from earmark.counters.base import Batch, Counters, LookupKey, UserAgentKey
from earmark.counters.buffered import BufferedCounters
from earmark.counters.memory import MemoryCounters
from earmark.counters.redis_backend import RedisCounters
from earmark.counters.reports import MemoryMissingMbids, MissingMbids, RedisMissingMbids

__all__ = [
    "Batch",
    "BufferedCounters",
    "CounterBackends",
    "Counters",
    "LookupKey",
    "MemoryCounters",
    "MemoryMissingMbids",
    "MissingMbids",
    "RedisCounters",
    "RedisMissingMbids",
    "UserAgentKey",
    "open_backends",
]

#: Counting happens inside API requests: a stalled Redis must not stall them for long.
_SOCKET_TIMEOUT_S = 2.0
#: One immediate retry (a pooled connection Redis closed) instead of redis-py's default of three
#: with exponential backoff, which holds each request for seconds while Redis is down.
_RETRIES = 1


@dataclass
class CounterBackends:
    """The counters and the missing-MBID reports of one process; ``close()`` when done."""

    counters: Counters
    missing_mbids: MissingMbids
    client: redis.Redis | None = None

    @property
    def shared(self) -> bool:
        """True when other processes see the same counts (Redis)."""
        return self.client is not None

    def close(self) -> None:
        """Write what the counters hold (buffered), then close the Redis connections."""
        if isinstance(self.counters, BufferedCounters):
            self.counters.close()
        if self.client is not None:
            self.client.close()


def open_backends(
    redis_url: str = "", prefix: str = "earmark:", *, flush_interval: float = 0.0
) -> CounterBackends:
    """Redis backends for a ``redis_url`` (settings ``redis_url``/``redis_prefix``), else memory.

    ``flush_interval`` > 0 (the web service: setting ``counters_flush_interval``) sums request
    counts in the process and writes them that often (:class:`BufferedCounters`).
    """
    if not redis_url:
        return CounterBackends(MemoryCounters(), MemoryMissingMbids())
    client = redis.Redis.from_url(
        str(redis_url),
        socket_timeout=_SOCKET_TIMEOUT_S,
        socket_connect_timeout=_SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), _RETRIES),
    )
    direct = RedisCounters(client, prefix)
    counters: Counters = BufferedCounters(direct, flush_interval) if flush_interval > 0 else direct
    return CounterBackends(counters, RedisMissingMbids(client, prefix), client=client)
