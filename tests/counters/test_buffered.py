"""The web service's buffered counters, against the real Redis: nothing is written per request,
the sums arrive by the flush, on close, or before a claim; an outage keeps them (up to a cap)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis

from earmark.counters import BufferedCounters, LookupKey, RedisCounters, UserAgentKey, open_backends
from earmark.counters import buffered as buffered_module

AT = dt.datetime(2024, 5, 1, 11, 30, tzinfo=dt.UTC)
DAY = AT.date()
HIT = LookupKey(7, DAY, 11, True)
MISS = LookupKey(7, DAY, 11, False)


def _live_fields(client: redis.Redis, counters: RedisCounters) -> dict[str, int]:
    found: dict[str, int] = {}
    for kind in ("lookups", "user_agents"):
        for partition in range(16):
            for field, value in client.hgetall(counters.live_key(kind, partition)).items():
                found[field.decode() if isinstance(field, bytes) else field] = int(value)
    return found


def _claimed(counters: BufferedCounters) -> tuple[Counter[Any], Counter[Any]]:
    lookups: Counter[Any] = Counter()
    agents: Counter[Any] = Counter()
    for batch in counters.claim_lookups():
        lookups.update(batch.counts)
        counters.release(batch)
    for agent_batch in counters.claim_user_agents():
        agents.update(agent_batch.counts)
        counters.release(agent_batch)
    return lookups, agents


def test_requests_are_summed_and_written_in_one_flush(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    direct = RedisCounters(redis_client, redis_prefix)
    counters = BufferedCounters(direct, interval=3600)  # the thread never flushes here
    try:
        for _ in range(5):
            counters.count_request(7, hits=1, user_agent="beets", ip="10.0.0.1", at=AT)
        counters.count_request(7, misses=2, at=AT)
        assert _live_fields(redis_client, direct) == {}  # nothing written per request
        assert counters.pending == 3
        assert counters.flush()
        assert counters.pending == 0
        assert _live_fields(redis_client, direct) == {
            "2024-05-01:11:7:hit": 5,
            "2024-05-01:11:7:miss": 2,
            "2024-05-01:7:beets:10.0.0.1": 5,
        }
    finally:
        counters.close()


def test_the_thread_writes_every_interval(redis_client: redis.Redis, redis_prefix: str) -> None:
    direct = RedisCounters(redis_client, redis_prefix)
    counters = BufferedCounters(direct, interval=0.05)
    try:
        counters.count_request(7, hits=1, at=AT)
        deadline = time.monotonic() + 10
        while not _live_fields(redis_client, direct) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _live_fields(redis_client, direct) == {"2024-05-01:11:7:hit": 1}
    finally:
        counters.close()


def test_close_writes_what_is_left_and_later_counts_still_arrive(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    direct = RedisCounters(redis_client, redis_prefix)
    counters = BufferedCounters(direct, interval=3600)
    counters.count_request(7, hits=3, at=AT)
    counters.close()
    assert _live_fields(redis_client, direct) == {"2024-05-01:11:7:hit": 3}
    counters.count_request(7, hits=1, at=AT)  # a request finishing during the shutdown
    assert _live_fields(redis_client, direct) == {"2024-05-01:11:7:hit": 4}


def test_a_claim_sees_the_counts_of_this_process(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    counters = BufferedCounters(RedisCounters(redis_client, redis_prefix), interval=3600)
    try:
        counters.count_request(7, hits=1, misses=1, user_agent="ua", ip="::1", at=AT)
        lookups, agents = _claimed(counters)
        assert lookups == {HIT: 1, MISS: 1}
        assert agents == {UserAgentKey(7, DAY, "ua", "::1"): 1}
        assert _claimed(counters) == (Counter(), Counter())
    finally:
        counters.close()


def test_concurrent_requests_lose_nothing(redis_client: redis.Redis, redis_prefix: str) -> None:
    counters = BufferedCounters(RedisCounters(redis_client, redis_prefix), interval=0.01)

    def count_many() -> None:
        for _ in range(500):
            counters.count_request(7, hits=1, at=AT)

    threads = [threading.Thread(target=count_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counters.close()
    lookups, _ = _claimed(counters)
    assert lookups == {HIT: 4000}


def test_an_outage_keeps_the_counts_for_a_later_flush(
    redis_client: redis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    down = RedisCounters(redis.Redis.from_url("redis://127.0.0.1:1/0"), redis_prefix)
    counters = BufferedCounters(down, interval=3600)
    counters.count_request(7, hits=2, at=AT)
    with caplog.at_level(logging.WARNING):
        assert not counters.flush()
    assert "cannot count 1 request counter(s)" in caplog.text
    counters.count_request(7, hits=1, at=AT)
    assert counters.pending == 1
    counters.inner = RedisCounters(redis_client, redis_prefix)  # Redis is back
    assert counters.flush()
    assert _claimed(counters)[0] == {HIT: 3}
    counters.close()


def test_an_outage_holds_a_bounded_number_of_counters(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(buffered_module, "MAX_PENDING_KEYS", 3)
    down = RedisCounters(redis.Redis.from_url("redis://127.0.0.1:1/0"), redis_prefix)
    counters = BufferedCounters(down, interval=3600)
    for application in range(10):
        counters.count_request(application, hits=1, at=AT)
    counters.count_request(0, hits=1, at=AT)  # a counter already held still counts
    assert counters.pending == 3
    with caplog.at_level(logging.WARNING):
        counters.flush()
    assert "7 count(s) dropped" in caplog.text
    assert counters.pending == 3


def test_the_web_service_setting_builds_the_buffer(redis_prefix: str) -> None:
    backends = open_backends("redis://127.0.0.1:1/0", redis_prefix, flush_interval=1.0)
    assert isinstance(backends.counters, BufferedCounters)
    backends.close()  # Redis is unreachable: close neither hangs nor raises
    direct = open_backends("redis://127.0.0.1:1/0", redis_prefix)
    assert isinstance(direct.counters, RedisCounters)
    direct.close()
    with pytest.raises(ValueError, match="interval must be positive"):
        BufferedCounters(direct.counters, 0)
