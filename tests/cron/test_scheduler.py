"""Schedules and the scheduler, driven by an injected clock (no test sleeps)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from earmark.cron.schedule import MINUTELY, Every, daily, every_minutes, hourly
from earmark.cron.scheduler import Job, Scheduler


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2024, 5, day, hour, minute, second, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.mark.parametrize(
    ("schedule", "moment", "expected"),
    [
        (MINUTELY, at(12, 0, 0), at(12, 1)),
        (MINUTELY, at(12, 0, 30), at(12, 1)),
        (hourly(30), at(12, 29, 59), at(12, 30)),
        (hourly(30), at(12, 30), at(13, 30)),
        (daily(0, 10), at(0, 9), at(0, 10)),
        (daily(0, 10), at(0, 10), at(0, 10, day=2)),
        (daily(0, 10), at(23, 59), at(0, 10, day=2)),
        (every_minutes(5), at(12, 7), at(12, 10)),
    ],
)
def test_next_after(schedule: Every, moment: dt.datetime, expected: dt.datetime) -> None:
    assert schedule.next_after(moment) == expected


def test_last_at_or_before_and_descriptions() -> None:
    assert daily(0, 10).last_at_or_before(at(0, 5, day=2)) == at(0, 10, day=1)
    assert daily(0, 10).last_at_or_before(at(0, 10)) == at(0, 10)
    assert MINUTELY.describe() == "every minute"
    assert hourly(30).describe() == "hourly at :30"
    assert daily(0, 10).describe() == "daily at 00:10 UTC"
    assert every_minutes(5).describe() == "every 5 min"
    with pytest.raises(ValueError, match="offset"):
        Every(dt.timedelta(hours=1), dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="aware"):
        MINUTELY.next_after(dt.datetime(2024, 5, 1))


class Recorder:
    """Job bodies that note when they ran (by the fake clock)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.runs: list[tuple[str, dt.datetime]] = []

    def job(self, name: str, *, fail: bool = False, takes: dt.timedelta | None = None):  # type: ignore[no-untyped-def]
        def run() -> str:
            self.runs.append((name, self.clock.now))
            if takes is not None:
                self.clock.now += takes
            if fail:
                raise RuntimeError(f"{name} broke")
            return f"{name} done"

        return run


def test_jobs_run_when_due_in_order() -> None:
    clock = FakeClock(at(12, 0, 30))
    rec = Recorder(clock)
    scheduler = Scheduler(
        [Job("minute", MINUTELY, rec.job("minute")), Job("hour", hourly(0), rec.job("hour"))],
        clock=clock,
    )
    assert scheduler.run_pending() == []  # planned at 12:00:30: nothing due yet
    assert scheduler.next_runs == {"minute": at(12, 1), "hour": at(13)}
    assert scheduler.seconds_until_due(clock.now) == 30
    clock.now = at(12, 1)
    assert [r.name for r in scheduler.run_pending()] == ["minute"]
    clock.now = at(13)
    runs = scheduler.run_pending()
    assert [(r.name, r.ok, r.summary) for r in runs] == [
        ("minute", True, "minute done"),
        ("hour", True, "hour done"),
    ]
    assert scheduler.next_runs == {"minute": at(13, 1), "hour": at(14)}
    assert rec.runs == [("minute", at(12, 1)), ("minute", at(13)), ("hour", at(13))]


def test_a_failing_job_is_logged_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(at(12, 0, 30))
    rec = Recorder(clock)
    scheduler = Scheduler(
        [
            Job("broken", MINUTELY, rec.job("broken", fail=True)),
            Job("fine", MINUTELY, rec.job("fine")),
        ],
        clock=clock,
    )
    scheduler.plan(clock.now)
    clock.now = at(12, 1)
    with caplog.at_level(logging.ERROR):
        runs = scheduler.run_pending()
    assert [(r.name, r.ok) for r in runs] == [("broken", False), ("fine", True)]
    assert runs[0].error == "RuntimeError('broken broke')"
    assert "cron job broken failed" in caplog.text
    assert "RuntimeError" in caplog.text
    assert scheduler.next_runs["broken"] == at(12, 2)  # planned as usual
    assert scheduler.last_runs["broken"].ok is False


def test_missed_runs_do_not_pile_up() -> None:
    clock = FakeClock(at(12, 0, 30))
    rec = Recorder(clock)
    slow = Job("slow", MINUTELY, rec.job("slow", takes=dt.timedelta(minutes=3, seconds=10)))
    scheduler = Scheduler([slow, Job("quick", MINUTELY, rec.job("quick"))], clock=clock)
    scheduler.plan(clock.now)
    clock.now = at(12, 5)  # the process was paused for minutes
    scheduler.run_pending()
    # Each ran once; the next runs follow the present, not the slots that passed.
    assert rec.runs == [("slow", at(12, 5)), ("quick", at(12, 8, 10))]
    assert scheduler.next_runs == {"slow": at(12, 9), "quick": at(12, 9)}


def test_catch_up_runs_at_start() -> None:
    clock = FakeClock(at(9, 30))
    rec = Recorder(clock)

    def broken(now: dt.datetime) -> bool:
        raise RuntimeError("no database")

    scheduler = Scheduler(
        [
            Job("behind", daily(0, 10), rec.job("behind"), catch_up=lambda now: now.hour >= 1),
            Job("on-time", daily(0, 10), rec.job("on-time"), catch_up=lambda now: False),
            Job("unsure", daily(0, 10), rec.job("unsure"), catch_up=broken),
        ],
        clock=clock,
    )
    assert [r.name for r in scheduler.run_pending()] == ["behind"]
    assert scheduler.next_runs["behind"] == at(0, 10, day=2)
    assert scheduler.next_runs["unsure"] == at(0, 10, day=2)


def test_run_once_and_unknown_names() -> None:
    clock = FakeClock(at(12))
    rec = Recorder(clock)
    scheduler = Scheduler([Job("a", daily(), rec.job("a"))], clock=clock)
    assert scheduler.run_once("a").summary == "a done"
    assert scheduler.next_runs == {}  # the plan is untouched
    with pytest.raises(KeyError, match="no cron job named 'b'"):
        scheduler.run_once("b")
    with pytest.raises(ValueError, match="unique"):
        Scheduler([Job("a", daily(), rec.job("a")), Job("a", daily(), rec.job("a"))])


def test_stopping_runs_the_on_stop_jobs() -> None:
    clock = FakeClock(at(12, 0, 30))
    rec = Recorder(clock)
    scheduler = Scheduler(
        [Job("drain", MINUTELY, rec.job("drain"), on_stop=True), Job("x", MINUTELY, rec.job("x"))],
        clock=clock,
    )
    stop = threading.Event()
    stop.set()  # asked to stop before the first loop
    scheduler.run_forever(stop)
    assert rec.runs == [("drain", at(12, 0, 30))]


def test_start_and_stop_in_a_thread() -> None:
    ran = threading.Event()

    def job() -> str:
        ran.set()
        return "ran"

    scheduler = Scheduler([Job("now", daily(), job, catch_up=lambda now: True)])
    scheduler.start()
    try:
        running = scheduler.running
        with pytest.raises(RuntimeError, match="already running"):
            scheduler.start()
        assert ran.wait(10)
    finally:
        assert scheduler.stop(timeout=10)
    assert (running, scheduler.running) == (True, False)
    assert scheduler.last_runs["now"].ok
    assert scheduler.stop() is True  # stopping twice is harmless
