"""Sliding-window counters: 20 s windows in steps of 5 s, as the reference's Redis limiter."""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

#: The window: the current 5-second slot and the three before it (15-20 s).
INTERVAL_S = 20
STEPS = 4
STEP_S = INTERVAL_S / STEPS


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: Seconds until a rejected caller may try again (0 when allowed).
    retry_after: float = 0.0


def slot_of(now: float) -> int:
    return math.floor(STEPS * now / INTERVAL_S)


def retry_after(now: float) -> float:
    """Seconds until the oldest slot of the window leaves it (the next slot boundary)."""
    return (slot_of(now) + 1) * STEP_S - now


class Window(ABC):
    """Counts hits per (bucket, key) over the sliding window."""

    @abstractmethod
    async def hit(self, bucket: str, key: str, rate: float) -> Verdict:
        """Count one hit unless it would pass ``rate`` per second over the window; a rejected
        hit is not counted (rejections do not consume budget)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryWindow(Window):
    """The window of one process (``earmark serve``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, str], dict[int, int]] = {}
        self._lock = threading.Lock()

    async def hit(self, bucket: str, key: str, rate: float) -> Verdict:
        now = self._clock()
        slot = slot_of(now)
        with self._lock:
            slots = self._counts.setdefault((bucket, key), {})
            for old in [s for s in slots if s <= slot - STEPS]:
                del slots[old]
            if sum(slots.values()) + 1 > rate * INTERVAL_S:
                if not slots:
                    del self._counts[(bucket, key)]
                return Verdict(False, retry_after(now))
            slots[slot] = slots.get(slot, 0) + 1
            if len(self._counts) > 100_000:
                self._forget_idle(slot)
        return Verdict(True)

    def _forget_idle(self, slot: int) -> None:
        idle = [k for k, v in self._counts.items() if max(v, default=slot - STEPS) <= slot - STEPS]
        for k in idle:
            del self._counts[k]
