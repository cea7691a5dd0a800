"""Sliding-window counters: 20 s windows in steps of 5 s, as the reference's Redis limiter (§6).

Time is cut into 5-second slots (``slot = floor(4 * now / 20)``); a bucket's count is the sum of
the current slot and the three before it, so the window covers the last 15 to 20 seconds. A hit
is allowed while that sum, the hit included, stays at or below ``rate * 20``.

A request is charged to several buckets at once (application, global, IP) with
:meth:`Window.charge`: either every bucket counts the hit or none does. The reference counts the
buckets one after the other and keeps the earlier ones charged when a later one rejects, so a
single client hammering past its IP limit also drains the global budget of everybody else;
here a rejected request consumes nothing anywhere.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: The window: the current 5-second slot and the three before it (15-20 s).
INTERVAL_S = 20
STEPS = 4
STEP_S = INTERVAL_S / STEPS


@dataclass(frozen=True)
class Charge:
    """One bucket a hit is counted in: ``rate`` requests per second (must be > 0)."""

    bucket: str
    key: str
    rate: float


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: Seconds until a rejected caller may try again (0 when allowed).
    retry_after: float = 0.0
    #: Index (in the charges) of the bucket that rejected the hit.
    rejected: int | None = None
    #: False when the counters could not be reached and the hit was allowed unchecked.
    checked: bool = True


ALLOWED = Verdict(True)


def slot_of(now: float) -> int:
    return math.floor(STEPS * now / INTERVAL_S)


def budget(rate: float) -> float:
    """Hits a bucket of ``rate`` per second admits per window. At least one: a smaller rate
    (below 0.05/s) cannot be expressed by a 20 s window and would otherwise block every call."""
    return max(rate * INTERVAL_S, 1.0)


def retry_after(now: float, counts: Sequence[int], rate: float) -> float:
    """Seconds until one more hit fits, if nobody else hits meanwhile.

    ``counts`` are the slot counts oldest first (``slot - 3`` … ``slot``), without the
    rejected hit. Each slot boundary drops the oldest remaining slot out of the window; the
    answer is the first boundary after which the rest plus one fits the budget.
    """
    slot = slot_of(now)
    limit = budget(rate)
    remaining = sum(counts)
    for k, count in enumerate(counts, start=1):
        remaining -= count
        if remaining + 1 <= limit:
            return (slot + k) * STEP_S - now
    # Not reached: once every slot has left the window the budget (at least 1) fits a hit.
    return (slot + len(counts)) * STEP_S - now


class Window(ABC):
    """Counts hits per (bucket, key) over the sliding window."""

    @abstractmethod
    async def charge(self, charges: Sequence[Charge]) -> Verdict:
        """Count one hit in every bucket of ``charges`` unless one of them would pass its rate
        over the window; then count nothing and name the first such bucket."""

    async def hit(self, bucket: str, key: str, rate: float) -> Verdict:
        """Count one hit in one bucket (see :meth:`charge`)."""
        return await self.charge([Charge(bucket, key, rate)])

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryWindow(Window):
    """The window of one process (``earmark serve``).

    ``clock`` is injectable for tests. Buckets idle for a whole window are forgotten once per
    slot, so memory follows the number of clients active in the last 20 seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, str], dict[int, int]] = {}
        self._lock = threading.Lock()
        self._swept = slot_of(clock())

    def __len__(self) -> int:
        """Buckets currently remembered."""
        return len(self._counts)

    async def charge(self, charges: Sequence[Charge]) -> Verdict:
        now = self._clock()
        slot = slot_of(now)
        with self._lock:
            if slot != self._swept:
                self._sweep(slot)
            for index, item in enumerate(charges):
                counts = self._window(item, slot)
                if sum(counts) + 1 > budget(item.rate):
                    return Verdict(False, retry_after(now, counts, item.rate), index)
            for item in charges:
                slots = self._counts.setdefault((item.bucket, item.key), {})
                slots[slot] = slots.get(slot, 0) + 1
        return ALLOWED

    def _window(self, item: Charge, slot: int) -> list[int]:
        slots = self._counts.get((item.bucket, item.key), {})
        return [slots.get(s, 0) for s in range(slot - STEPS + 1, slot + 1)]

    def _sweep(self, slot: int) -> None:
        oldest = slot - STEPS + 1
        for key in list(self._counts):
            slots = self._counts[key]
            for s in [s for s in slots if s < oldest]:
                del slots[s]
            if not slots:
                del self._counts[key]
        self._swept = slot
