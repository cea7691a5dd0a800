"""A small scheduler: named jobs on fixed schedules, one thread, each run isolated.

Jobs run one after another in the scheduler's thread (they are short, and on SQLite they would
wait for the single writer anyway). A job that raises is logged and the loop goes on; its next
run is planned as usual. Missed runs are not piled up: after a long job or a pause, a job that
is due runs once and its next run is the first slot after the present.

Time comes from an injectable clock, and :meth:`Scheduler.run_pending` takes the present as an
argument, so tests drive the timing without sleeping. :meth:`Scheduler.start` /
:meth:`Scheduler.stop` run the loop in a thread (``earmark serve``); :meth:`Scheduler.run_forever`
runs it in the caller's thread until a stop event is set (``earmark run cron``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from earmark.cron.schedule import Every

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

#: The loop wakes at least this often, so that a changed wall clock is noticed.
MAX_SLEEP_S = 60.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Job:
    """A named task. ``run`` returns a one-line summary (or None)."""

    name: str
    schedule: Every
    run: Callable[[], str | None]
    description: str = ""
    #: Asked once when the loop starts, with the present: True runs the job right away
    #: (e.g. the daily statistics when the process was down at their time).
    catch_up: Callable[[dt.datetime], bool] | None = None
    #: Also run once when the loop stops (e.g. drain in-memory counters before they are lost).
    on_stop: bool = False


@dataclass(frozen=True)
class JobRun:
    name: str
    started: dt.datetime
    finished: dt.datetime
    ok: bool
    summary: str | None = None
    error: str | None = None


class Scheduler:
    def __init__(self, jobs: Sequence[Job], *, clock: Clock = utc_now) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.jobs = list(jobs)
        self.clock = clock
        self.next_runs: dict[str, dt.datetime] = {}
        self.last_runs: dict[str, JobRun] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(f"no cron job named {name!r}; jobs: {', '.join(j.name for j in self.jobs)}")

    def plan(self, now: dt.datetime) -> None:
        """Plan every job's first run after ``now`` (or at ``now`` when it must catch up)."""
        for job in self.jobs:
            self.next_runs[job.name] = job.schedule.next_after(now)
            if job.catch_up is None:
                continue
            try:
                behind = job.catch_up(now)
            except Exception:
                logger.exception("cron job %s: cannot tell whether it must catch up", job.name)
                continue
            if behind:
                logger.info("cron job %s missed its last run; running it now", job.name)
                self.next_runs[job.name] = now

    def due(self, now: dt.datetime) -> list[Job]:
        if not self.next_runs:
            self.plan(now)
        return [job for job in self.jobs if self.next_runs[job.name] <= now]

    def run_pending(self, now: dt.datetime | None = None) -> list[JobRun]:
        """Run the jobs due at ``now`` (default: the clock), in declaration order."""
        now = now if now is not None else self.clock()
        runs = []
        for job in self.due(now):
            runs.append(self._run(job))
            # Skip the slots that passed while jobs ran: no pile-up after a long job.
            self.next_runs[job.name] = job.schedule.next_after(max(now, self.clock()))
        return runs

    def run_once(self, name: str) -> JobRun:
        """Run one job now, whatever its schedule (tests, ``earmark run cron --once``)."""
        return self._run(self.job(name))

    def _run(self, job: Job) -> JobRun:
        started = self.clock()
        try:
            summary = job.run()
        except Exception as exc:
            logger.exception("cron job %s failed", job.name)
            run = JobRun(job.name, started, self.clock(), ok=False, error=f"{exc!r}")
        else:
            if summary:
                logger.info("cron job %s: %s", job.name, summary)
            run = JobRun(job.name, started, self.clock(), ok=True, summary=summary)
        self.last_runs[job.name] = run
        return run

    def seconds_until_due(self, now: dt.datetime) -> float:
        if not self.next_runs:
            self.plan(now)
        if not self.next_runs:
            return MAX_SLEEP_S
        wait = (min(self.next_runs.values()) - now).total_seconds()
        return min(max(wait, 0.0), MAX_SLEEP_S)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Run jobs as they fall due until ``stop`` (default: :meth:`stop`'s event) is set."""
        stop = stop or self._stop
        self.plan(self.clock())
        logger.info("cron started: %s", ", ".join(j.name for j in self.jobs) or "no jobs")
        while not stop.is_set():
            self.run_pending()
            stop.wait(self.seconds_until_due(self.clock()))
        for job in self.jobs:
            if job.on_stop:
                self._run(job)
        logger.info("cron stopped")

    def start(self) -> None:
        """Run the loop in a daemon thread (in-process use, e.g. ``earmark serve``)."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the scheduler is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="earmark-cron", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 60.0) -> bool:
        """Ask the loop to stop after the running job; True when it stopped within ``timeout``."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
