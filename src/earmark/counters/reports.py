"""Reports of MBIDs that a lookup found linked to a track but missing from MusicBrainz.

The lookup path reports them (reference §3.5, §10); the cron takes them in batches and checks
each against the mirror (merge a redirect, or start the unknown-MBID clock). A report is a hint,
not an obligation: a report lost to a crash costs nothing, because the hourly sweep over every
linked MBID checks it anyway. So a set (in memory or in Redis) is enough, and repeated reports
of one MBID between two runs are checked once.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable

import redis

logger = logging.getLogger(__name__)


class MissingMbids(ABC):
    """A set of reported MBIDs (lowercase strings)."""

    @abstractmethod
    def report(self, mbids: Iterable[str]) -> None:
        """Add MBIDs; never raises (a failure is logged by the backend)."""

    @abstractmethod
    def take(self, limit: int) -> list[str]:
        """Remove and return up to ``limit`` reported MBIDs."""


class MemoryMissingMbids(MissingMbids):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mbids: set[str] = set()

    def report(self, mbids: Iterable[str]) -> None:
        new = {mbid.lower() for mbid in mbids}
        with self._lock:
            self._mbids |= new

    def take(self, limit: int) -> list[str]:
        with self._lock:
            taken = sorted(self._mbids)[:limit]
            self._mbids.difference_update(taken)
        return taken


class RedisMissingMbids(MissingMbids):
    """The Redis set ``<prefix>missing_mbids``: one SADD per lookup, SPOP to take."""

    def __init__(self, client: redis.Redis, prefix: str = "earmark:") -> None:
        self.client = client
        self.key = f"{prefix}missing_mbids"

    def report(self, mbids: Iterable[str]) -> None:
        values = sorted({mbid.lower() for mbid in mbids})
        if not values:
            return
        try:
            self.client.sadd(self.key, *values)
        except redis.RedisError as exc:
            # Harmless: the sweep finds every linked MBID on its own.
            logger.warning("cannot report missing MBIDs: %s", exc)

    def take(self, limit: int) -> list[str]:
        popped: list[bytes | str] = self.client.spop(self.key, limit) or []  # type: ignore[assignment]
        return sorted(v.decode() if isinstance(v, bytes) else str(v) for v in popped)
