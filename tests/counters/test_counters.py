"""Counter backends (memory and real Redis): buckets, claims, leftovers, reports."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from typing import Any

import pytest
import redis

from earmark.counters import (
    Batch,
    CounterBackends,
    Counters,
    LookupKey,
    RedisCounters,
    UserAgentKey,
    open_backends,
)
from earmark.counters.base import MAX_USER_AGENT
from earmark.counters.redis_backend import (
    PARTITIONS,
    lookup_field,
    parse_lookup_field,
    parse_user_agent_field,
    user_agent_field,
)

AT = dt.datetime(2024, 5, 1, 13, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))
DAY = dt.date(2024, 5, 1)


def _totals(batches: list[Batch[Any]]) -> Counter[Any]:
    total: Counter[Any] = Counter()
    for batch in batches:
        total.update(batch.counts)
    return total


def _drain_all(counters: Counters) -> tuple[Counter[Any], Counter[Any]]:
    lookups, agents = counters.claim_lookups(), counters.claim_user_agents()
    for batch in lookups + agents:
        counters.release(batch)
    return _totals(lookups), _totals(agents)


def test_a_request_counts_hits_misses_and_the_user_agent(backends: CounterBackends) -> None:
    counters = backends.counters
    counters.count_request(7, hits=2, misses=1, user_agent="beets/2.0", ip="10.0.0.1", at=AT)
    counters.count_lookup(7, hit=True, at=AT)
    counters.count_lookup(8, hit=False, at=AT + dt.timedelta(hours=1), count=3)
    counters.count_user_agent(7, "beets/2.0", "10.0.0.1", at=AT)
    lookups, agents = _drain_all(counters)
    # 13:59 at +02:00 is 11:59 UTC: buckets are UTC hours.
    assert lookups == {
        LookupKey(7, DAY, 11, True): 3,
        LookupKey(7, DAY, 11, False): 1,
        LookupKey(8, DAY, 12, False): 3,
    }
    assert agents == {UserAgentKey(7, DAY, "beets/2.0", "10.0.0.1"): 2}
    assert _drain_all(counters) == (Counter(), Counter())


def test_a_request_without_ip_counts_no_user_agent(backends: CounterBackends) -> None:
    backends.counters.count_request(1, misses=1, user_agent="x", at=AT)
    lookups, agents = _drain_all(backends.counters)
    assert lookups == {LookupKey(1, DAY, 11, False): 1}
    assert agents == Counter()


def test_awkward_user_agents_and_ips_survive(backends: CounterBackends) -> None:
    agent = "Pïcard/2.9 (a:b; 100%) +http://x/y"
    long_agent = "z" * (MAX_USER_AGENT + 50)
    backends.counters.count_user_agent(3, agent, "2001:db8::1", at=AT)
    backends.counters.count_user_agent(3, long_agent, "10.1.1.1", at=AT)
    _lookups, agents = _drain_all(backends.counters)
    assert agents == {
        UserAgentKey(3, DAY, agent, "2001:db8::1"): 1,
        UserAgentKey(3, DAY, "z" * MAX_USER_AGENT, "10.1.1.1"): 1,
    }


def test_an_unreleased_batch_comes_back_with_its_id(backends: CounterBackends) -> None:
    counters = backends.counters
    counters.count_lookup(1, hit=True, at=AT)
    first = counters.claim_lookups()
    assert [b.counts for b in first] == [{LookupKey(1, DAY, 11, True): 1}]
    counters.count_lookup(1, hit=True, at=AT)  # counted while the first batch is out
    again = counters.claim_lookups()
    assert first[0] in again  # same id, same counts: the drainer will find it recorded
    for batch in again:
        counters.release(batch)
    rest = counters.claim_lookups()
    for batch in rest:
        counters.release(batch)
    # Nothing lost, nothing doubled, across every batch ever handed out.
    assert _totals(again + rest) == {LookupKey(1, DAY, 11, True): 2}
    assert counters.claim_lookups() == []


def test_counting_while_claiming_loses_nothing(backends: CounterBackends) -> None:
    counters = backends.counters
    threads, per_thread = 4, 300
    done = threading.Event()
    seen: Counter[Any] = Counter()

    def count(app: int) -> None:
        for _ in range(per_thread):
            counters.count_request(app, hits=1, user_agent="ua", ip="1.2.3.4", at=AT)

    def drain() -> None:
        while not done.is_set():
            lookups, agents = _drain_all(counters)
            seen.update(lookups)
            seen.update(agents)

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=count, args=(app,)) for app in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    drainer.join()
    lookups, agents = _drain_all(counters)
    seen.update(lookups)
    seen.update(agents)
    for app in range(threads):
        assert seen[LookupKey(app, DAY, 11, True)] == per_thread
        assert seen[UserAgentKey(app, DAY, "ua", "1.2.3.4")] == per_thread


def test_missing_mbid_reports_are_a_set(backends: CounterBackends) -> None:
    reports = backends.missing_mbids
    upper = "B81F83EE-4DA4-11E0-9ED8-0025225356F3"
    reports.report([upper, upper.lower(), "00000000-0000-0000-0000-000000000001"])
    reports.report([])
    taken = reports.take(1) + reports.take(10)
    assert sorted(taken) == ["00000000-0000-0000-0000-000000000001", upper.lower()]
    assert reports.take(10) == []


# --- Redis specifics --------------------------------------------------------------------------


def test_redis_fields_round_trip() -> None:
    key = LookupKey(12, DAY, 5, False)
    assert lookup_field(key) == "2024-05-01:05:12:miss"
    assert parse_lookup_field(lookup_field(key)) == key
    agent = UserAgentKey(3, DAY, "a:b/c %", "::1")
    assert parse_user_agent_field(user_agent_field(agent)) == agent
    with pytest.raises(ValueError, match="hit or miss"):
        parse_lookup_field("2024-05-01:05:12:maybe")


def test_redis_keys_stay_under_the_prefix_and_vanish_after_release(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    counters = RedisCounters(redis_client, redis_prefix)
    for app in range(40):
        counters.count_request(app, hits=1, user_agent="ua", ip="ip", at=AT)
    keys = {k.decode() for k in redis_client.scan_iter(match=redis_prefix + "*")}
    assert keys
    assert all(k.startswith((redis_prefix + "lookups:{", redis_prefix + "ua:{")) for k in keys)
    assert len(keys) <= 2 * PARTITIONS
    lookups = counters.claim_lookups()
    assert {b.token for b in lookups} == {
        k + ":draining" for k in keys if k.startswith(redis_prefix + "lookups:")
    }
    for batch in lookups + counters.claim_user_agents():
        counters.release(batch)
    assert set(redis_client.scan_iter(match=redis_prefix + "*")) == set()


def test_redis_release_of_a_stale_batch_keeps_the_newer_one(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    counters = RedisCounters(redis_client, redis_prefix)
    counters.count_lookup(1, hit=True, at=AT)
    (stale,) = counters.claim_lookups()
    counters.release(stale)
    counters.count_lookup(1, hit=True, at=AT)
    (newer,) = counters.claim_lookups()
    assert newer.id != stale.id
    assert newer.token == stale.token
    counters.release(stale)  # a slow second drainer releasing what it had seen
    assert counters.claim_lookups() == [newer]


def test_redis_skips_malformed_fields(
    redis_client: redis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    counters = RedisCounters(redis_client, redis_prefix)
    redis_client.hincrby(counters.live_key("lookups", 0), "garbage", 5)
    redis_client.hincrby(counters.live_key("lookups", 0), "2024-05-01:05:12:hit", 2)
    with caplog.at_level(logging.WARNING):
        (batch,) = counters.claim_lookups()
    assert batch.counts == {LookupKey(12, DAY, 5, True): 2}
    assert "malformed counter 'garbage'" in caplog.text


def test_redis_outage_does_not_fail_the_request(caplog: pytest.LogCaptureFixture) -> None:
    backends = open_backends("redis://127.0.0.1:1/0", "earmark-test:")  # nothing listens there
    try:
        with caplog.at_level(logging.WARNING):
            backends.counters.count_lookup(1, hit=True)
            backends.counters.count_lookup(1, hit=False)
            backends.missing_mbids.report(["00000000-0000-0000-0000-000000000001"])
    finally:
        backends.close()
    # Logged once a minute, not once per request.
    assert caplog.text.count("cannot count 1 request counter(s)") == 1
    assert "cannot report missing MBIDs" in caplog.text
