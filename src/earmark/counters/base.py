"""The counter interface: per-request lookup and user-agent counts, drained into SQL in batches.

The web service counts every request (reference §3.5): a hit or a miss per (application, hour)
and one request per (application, day, user agent, IP). Counting must be cheap, so counts
accumulate in a backend (this process's memory, or Redis shared by every API process) and the
cron drains them into ``stats_lookups`` / ``stats_user_agents``.

Draining is a claim / apply / release protocol that neither loses nor double-counts:

1. :meth:`Counters.claim_lookups` atomically moves the accumulated counts aside into batches,
   each with a unique id; counting goes on into fresh storage meanwhile;
2. the drainer adds a batch to SQL and records its id in the same transaction
   (:func:`earmark.db.stats.record_drained_batch`); a batch whose id is already recorded was
   applied before and is skipped;
3. :meth:`Counters.release` forgets the batch.

A batch that was claimed but not released (the drainer failed or crashed) is returned again by
the next claim, with the same id, so it is applied exactly once.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NamedTuple, TypeVar

CounterKind = Literal["lookups", "user_agents"]

#: Longer user agents are cut: they are kept in a unique index (PostgreSQL's B-tree entries are
#: limited to about 2.7 kB) and nothing useful hides past this length.
MAX_USER_AGENT = 512
#: The width of ``stats_user_agents.ip``.
MAX_IP = 64


class LookupKey(NamedTuple):
    """One lookup counter: hits or misses of one application in one hour (UTC)."""

    application_id: int
    date: dt.date
    hour: int
    hit: bool


class UserAgentKey(NamedTuple):
    """One user-agent counter: requests of one application, user agent and IP on one day."""

    application_id: int
    date: dt.date
    user_agent: str
    ip: str


K = TypeVar("K", LookupKey, UserAgentKey)


@dataclass(frozen=True)
class Batch(Generic[K]):
    """Counts moved aside by a claim, to be applied once and then released.

    ``token`` is the backend's own handle on the batch (e.g. the Redis key holding it).
    """

    id: str
    kind: CounterKind
    counts: dict[K, int]
    token: Any = field(default=None, compare=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def clean_user_agent(user_agent: str) -> str:
    return user_agent[:MAX_USER_AGENT]


def clean_ip(ip: str) -> str:
    return ip[:MAX_IP]


class Counters(ABC):
    """Where the web service counts lookups and user agents; the cron drains it."""

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
        """Count one API request at once: ``hits`` / ``misses`` lookups, and the user agent.

        In batch mode a request adds one hit or miss per query (reference §3.4). The user agent
        is counted once when both ``user_agent`` and ``ip`` are given. ``at`` defaults to now;
        buckets are UTC hours and days. Backends never raise here: counting must not fail a
        request (a Redis outage is logged and the counts are lost).
        """
        lookups, agent = request_keys(
            application_id, hits=hits, misses=misses, user_agent=user_agent, ip=ip, at=at
        )
        if lookups or agent is not None:
            self.add(dict(lookups), {agent: 1} if agent is not None else {})

    @abstractmethod
    def add(self, lookups: Mapping[LookupKey, int], agents: Mapping[UserAgentKey, int]) -> bool:
        """Add counts (of one request, or summed over many); False when they could not be
        stored (logged by the backend, never raised)."""

    def count_lookup(
        self, application_id: int, *, hit: bool, at: dt.datetime | None = None, count: int = 1
    ) -> None:
        """Count ``count`` lookups that found (``hit``) or did not find a track."""
        if hit:
            self.count_request(application_id, hits=count, at=at)
        else:
            self.count_request(application_id, misses=count, at=at)

    def count_user_agent(
        self, application_id: int, user_agent: str, ip: str, *, at: dt.datetime | None = None
    ) -> None:
        """Count one request of ``application_id`` from ``user_agent`` at ``ip``."""
        self.count_request(application_id, user_agent=user_agent, ip=ip, at=at)

    @abstractmethod
    def claim_lookups(self) -> list[Batch[LookupKey]]:
        """Move the lookup counts aside: unreleased batches first, then the fresh counts."""

    @abstractmethod
    def claim_user_agents(self) -> list[Batch[UserAgentKey]]:
        """Move the user-agent counts aside (see :meth:`claim_lookups`)."""

    @abstractmethod
    def release(self, batch: Batch[Any]) -> None:
        """Forget a batch once it is in SQL (or known to have been applied before)."""


def request_keys(
    application_id: int,
    *,
    hits: int,
    misses: int,
    user_agent: str | None,
    ip: str | None,
    at: dt.datetime | None,
) -> tuple[list[tuple[LookupKey, int]], UserAgentKey | None]:
    """The counters one request adds to, in the buckets of ``at`` (default: now, UTC)."""
    moment = as_utc(at) if at is not None else utc_now()
    day = moment.date()
    lookups = [
        (LookupKey(application_id, day, moment.hour, hit), count)
        for hit, count in ((True, hits), (False, misses))
        if count > 0
    ]
    agent = None
    if user_agent is not None and ip is not None:
        agent = UserAgentKey(application_id, day, clean_user_agent(user_agent), clean_ip(ip))
    return lookups, agent
