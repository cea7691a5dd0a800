"""Counter backends for tests: in memory, in the real Redis, and through the web service's buffer.

The counters' tests and the cron tests (which drain what the counters hold) both use them: each
directory's conftest.py imports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from earmark.counters import (
    BufferedCounters,
    CounterBackends,
    RedisCounters,
    RedisMissingMbids,
    open_backends,
)
from tests.services import REDIS_URL, RUN_ID, require_redis


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test alone (per run and per test)."""
    return f"earmark-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def redis_client(redis_prefix: str) -> Iterator[redis.Redis]:
    """The real Redis server; every key under the test's prefix is deleted afterwards."""
    require_redis()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        keys = set(client.scan_iter(match=redis_prefix + "*"))  # SCAN may return a key twice
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["memory", "redis", "buffered"])
def backends(request: pytest.FixtureRequest, redis_prefix: str) -> Iterator[CounterBackends]:
    """Counters and missing-MBID reports: in memory, in the real Redis, and in the real Redis
    through the web service's buffer (written by its thread or before a claim)."""
    if request.param == "memory":
        yield open_backends("")
        return
    client = request.getfixturevalue("redis_client")
    direct = RedisCounters(client, redis_prefix)
    counters = BufferedCounters(direct, 0.05) if request.param == "buffered" else direct
    yield CounterBackends(counters, RedisMissingMbids(client, redis_prefix), client)
    if isinstance(counters, BufferedCounters):
        counters.close()
