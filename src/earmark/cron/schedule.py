"""When jobs run: fixed periods aligned to UTC (every minute, hourly at :MM, daily at HH:MM)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Every:
    """Instants ``EPOCH + offset + n * period``: ``Every(1 day, 10 min)`` is daily at 00:10 UTC."""

    period: dt.timedelta
    offset: dt.timedelta = dt.timedelta(0)

    def __post_init__(self) -> None:
        if self.period <= dt.timedelta(0):
            raise ValueError("a schedule's period must be positive")
        if not dt.timedelta(0) <= self.offset < self.period:
            raise ValueError("a schedule's offset must be in [0, period)")

    def _slots_until(self, moment: dt.datetime) -> int:
        return (_aware(moment) - EPOCH - self.offset) // self.period

    def last_at_or_before(self, moment: dt.datetime) -> dt.datetime:
        """The newest instant of the schedule that is not after ``moment``."""
        return EPOCH + self.offset + self._slots_until(moment) * self.period

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first instant of the schedule strictly after ``moment``."""
        return EPOCH + self.offset + (self._slots_until(moment) + 1) * self.period

    def describe(self) -> str:
        minutes = int(self.offset.total_seconds()) // 60
        if self.period == dt.timedelta(days=1):
            return f"daily at {minutes // 60:02d}:{minutes % 60:02d} UTC"
        if self.period == dt.timedelta(hours=1):
            return f"hourly at :{minutes:02d}"
        if self.period == dt.timedelta(minutes=1):
            return "every minute"
        text = f"every {_duration(self.period)}"
        return text + (f" (+{_duration(self.offset)})" if self.offset else "")


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("schedules work on aware datetimes (UTC)")
    return moment


def _duration(span: dt.timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


MINUTELY = Every(dt.timedelta(minutes=1))


def hourly(minute: int = 0) -> Every:
    return Every(dt.timedelta(hours=1), dt.timedelta(minutes=minute))


def daily(hour: int = 0, minute: int = 0) -> Every:
    return Every(dt.timedelta(days=1), dt.timedelta(hours=hour, minutes=minute))


def every_minutes(minutes: int, offset_minutes: int = 0) -> Every:
    return Every(dt.timedelta(minutes=minutes), dt.timedelta(minutes=offset_minutes))
