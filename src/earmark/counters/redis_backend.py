"""Counters in Redis, shared by every API process (production).

Layout, after the reference (§13) with hash tags so a partition's keys share a cluster slot::

    <prefix>lookups:{XX}            hash  "YYYY-MM-DD:HH:<app>:hit|miss" -> count
    <prefix>ua:{XX}                 hash  "YYYY-MM-DD:<app>:<quoted UA>:<quoted IP>" -> count
    <prefix>lookups:{XX}:draining   the same, moved aside by a claim, plus "~batch" -> batch id

``XX`` is one of :data:`PARTITIONS` partitions, chosen by a CRC-32 of the field, so each hash
stays small enough to read without stalling Redis. Counting a request is one pipelined round
trip of HINCRBYs (:mod:`earmark.counters.buffered` sums a second of requests into one).

A claim runs one Lua script per partition (all partitions in one pipeline): if the partition's
draining key exists it is a batch left over by a failed or crashed drainer and is returned with
its recorded id; otherwise the live key is RENAMEd to the draining key and stamped with a new
batch id. Both happen atomically, so no increment can fall between the read and the removal.
Release deletes the draining key only if it still holds the released batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.parse
import uuid
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

import redis

from earmark.counters.base import (
    Batch,
    CounterKind,
    Counters,
    K,
    LookupKey,
    UserAgentKey,
)

logger = logging.getLogger(__name__)

#: Fixed on purpose: writers and the drainer must agree on it, and a drainer that visited fewer
#: partitions than the writers use would never see some counts.
PARTITIONS = 16
BATCH_FIELD = "~batch"
_WARN_EVERY_S = 60.0

_CLAIM = """
local batch = redis.call('HGET', KEYS[2], ARGV[2])
if batch then return batch end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
  return ARGV[1]
end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return ARGV[1]
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_KIND_KEY: dict[CounterKind, str] = {"lookups": "lookups", "user_agents": "ua"}


def lookup_field(key: LookupKey) -> str:
    kind = "hit" if key.hit else "miss"
    return f"{key.date.isoformat()}:{key.hour:02d}:{key.application_id}:{kind}"


def parse_lookup_field(field: str) -> LookupKey:
    day, hour, application_id, kind = field.split(":")
    if kind not in ("hit", "miss"):
        raise ValueError(f"not hit or miss: {kind!r}")
    return LookupKey(int(application_id), dt.date.fromisoformat(day), int(hour), kind == "hit")


def user_agent_field(key: UserAgentKey) -> str:
    agent = urllib.parse.quote(key.user_agent, safe="")
    ip = urllib.parse.quote(key.ip, safe="")
    return f"{key.date.isoformat()}:{key.application_id}:{agent}:{ip}"


def parse_user_agent_field(field: str) -> UserAgentKey:
    day, application_id, agent, ip = field.split(":")
    return UserAgentKey(
        int(application_id),
        dt.date.fromisoformat(day),
        urllib.parse.unquote(agent),
        urllib.parse.unquote(ip),
    )


def partition_of(field: str) -> int:
    return zlib.crc32(field.encode()) % PARTITIONS


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCounters(Counters):
    """Counters in Redis hashes under ``prefix`` (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str = "earmark:") -> None:
        self.client = client
        self.prefix = prefix
        self._claim_script = client.register_script(_CLAIM)
        self._release_script = client.register_script(_RELEASE)
        self._last_warning = -_WARN_EVERY_S

    def live_key(self, kind: CounterKind, partition: int) -> str:
        return f"{self.prefix}{_KIND_KEY[kind]}:{{{partition:02x}}}"

    def draining_key(self, kind: CounterKind, partition: int) -> str:
        return self.live_key(kind, partition) + ":draining"

    def add(self, lookups: Mapping[LookupKey, int], agents: Mapping[UserAgentKey, int]) -> bool:
        """Add counts in one round trip, all or none (MULTI/EXEC); False (logged) when Redis
        could not take them."""
        pipe = self.client.pipeline(transaction=True)
        for key, count in lookups.items():
            field = lookup_field(key)
            pipe.hincrby(self.live_key("lookups", partition_of(field)), field, count)
        for agent, count in agents.items():
            field = user_agent_field(agent)
            pipe.hincrby(self.live_key("user_agents", partition_of(field)), field, count)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            self._warn(f"cannot count {len(lookups) + len(agents)} request counter(s): {exc}")
            return False
        return True

    def _warn(self, message: str) -> None:
        # One line a minute is enough to say Redis is down; one per request would flood.
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            logger.warning("%s (further failures are not logged for a minute)", message)

    def claim_lookups(self) -> list[Batch[LookupKey]]:
        return self._claim("lookups", parse_lookup_field)

    def claim_user_agents(self) -> list[Batch[UserAgentKey]]:
        return self._claim("user_agents", parse_user_agent_field)

    def _claim(self, kind: CounterKind, parse: Any) -> list[Batch[K]]:
        pipe = self.client.pipeline(transaction=False)
        for partition in range(PARTITIONS):
            keys = [self.live_key(kind, partition), self.draining_key(kind, partition)]
            self._claim_script(keys=keys, args=[uuid.uuid4().hex, BATCH_FIELD], client=pipe)
        claimed = pipe.execute()
        batches: list[Batch[K]] = []
        for partition, batch_id in enumerate(claimed):
            if batch_id is None:
                continue
            key = self.draining_key(kind, partition)
            batches.append(Batch(_text(batch_id), kind, self._read(key, parse), token=key))
        return batches

    def _read(self, key: str, parse: Any) -> dict[K, int]:
        # The draining key is never written again, so HSCAN sees each field exactly once.
        counts: Counter[K] = Counter()
        for raw_field, raw_value in self.client.hscan_iter(key, count=1000):
            field = _text(raw_field)
            if field == BATCH_FIELD:
                continue
            try:
                counts[parse(field)] += int(raw_value)
            except ValueError:
                logger.warning("ignoring a malformed counter %r in %s", field, key)
        return dict(counts)

    def release(self, batch: Batch[Any]) -> None:
        self._release_script(keys=[batch.token], args=[batch.id, BATCH_FIELD])
