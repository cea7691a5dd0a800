"""The assembled jobs: what each does through the scheduler, catch-up, the last drain on stop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from earmark.counters import CounterBackends, open_backends
from earmark.cron import JOB_NAMES, CronConfig, CronJobs, build_scheduler
from earmark.cron.opendata import OpenDataImport
from earmark.db import stats
from earmark.db.engine import Databases, write_transaction
from earmark.db.tables import stats_lookups
from earmark.musicbrainz.replication_source import DirectorySource
from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.cron import data, mb

T0 = dt.datetime(2024, 5, 1, 0, 5, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _hits(dbs: Databases) -> int:
    with dbs.app.connect() as conn:
        return int(conn.execute(sa.select(sa.func.sum(stats_lookups.c.count_hits))).scalar() or 0)


def test_every_job_runs_through_the_scheduler(
    dbs: Databases, backends: CounterBackends, mirror: MusicBrainzDatabase, tmp_path: Path
) -> None:
    clock = Clock(T0)
    with write_transaction(dbs.app) as conn:
        app = data.add_application(conn, data.add_account(conn))
    with write_transaction(dbs.fingerprint) as conn:
        data.add_link(conn, data.add_track(conn), data.mbid(1))
    mb.add_redirect(mirror, data.mbid(1), data.mbid(2))
    mb.set_replication_date(mirror, T0)
    backends.counters.count_request(app, hits=2, user_agent="ua", ip="ip", at=T0)
    backends.missing_mbids.report([data.mbid(1)])
    packets = DirectorySource(tmp_path)  # no packet yet: the replication job finds none
    (tmp_path / "opendata").mkdir()  # no day yet: the open data import finds none
    open_data = OpenDataImport(str(tmp_path / "opendata"))
    scheduler = build_scheduler(
        dbs, backends, mirror, clock=clock, replication=packets, open_data=open_data
    )
    assert [job.name for job in scheduler.jobs] == list(JOB_NAMES)
    runs = {name: scheduler.run_once(name) for name in JOB_NAMES}
    assert all(run.ok for run in runs.values()), runs
    assert runs["check-reported-mbids"].summary is not None
    assert "1 merged" in runs["check-reported-mbids"].summary
    assert runs["replicate-musicbrainz"].summary == "0 packets applied, sequence 1 (current)"
    assert runs["import-open-data"].summary == "0 days, 0 rows applied; 0 data problems"
    assert _hits(dbs) == 2
    with dbs.app.connect() as conn:
        assert stats.figures_on(conn, T0.date())["track_mbid.all"] == 2


def test_without_a_mirror_the_mbid_jobs_are_left_out(dbs: Databases) -> None:
    scheduler = build_scheduler(dbs, open_backends(), None)
    assert [job.name for job in scheduler.jobs] == [
        "drain-lookups",
        "drain-user-agents",
        "update-stats",
    ]


def test_an_empty_mirror_skips_the_mbid_jobs(dbs: Databases, tmp_path: object) -> None:
    empty = MusicBrainzDatabase.from_url(f"sqlite:///{tmp_path}/empty.db")
    try:
        scheduler = build_scheduler(dbs, open_backends(), empty)
        run = scheduler.run_once("sweep-mbids")
    finally:
        empty.dispose()
    assert run.ok
    assert run.summary == "no MusicBrainz mirror"


def test_daily_stats_catch_up_after_their_time_only(dbs: Databases) -> None:
    jobs = CronJobs(dbs, open_backends(), None, CronConfig())
    assert not jobs.stats_missing(T0)  # 00:05: today's run is still to come
    after = T0 + dt.timedelta(minutes=10)
    assert jobs.stats_missing(after)
    jobs.clock = Clock(after)
    jobs.update_stats()
    assert not jobs.stats_missing(after)


def test_the_loop_drains_memory_counters_when_it_stops(dbs: Databases) -> None:
    with write_transaction(dbs.app) as conn:
        app = data.add_application(conn, data.add_account(conn))
    backends = open_backends()  # what `earmark serve` shares between its web app and cron
    scheduler = build_scheduler(dbs, backends, None)
    scheduler.start()
    backends.counters.count_lookup(app, hit=True)
    assert scheduler.stop(timeout=30)
    assert _hits(dbs) == 1


def test_the_loop_keeps_its_schedule(dbs: Databases) -> None:
    clock = Clock(T0)
    scheduler = build_scheduler(dbs, open_backends(), None, clock=clock)
    scheduler.plan(clock.now)
    assert scheduler.next_runs == {
        "drain-lookups": T0.replace(minute=6),
        "drain-user-agents": T0.replace(hour=1, minute=0),
        "update-stats": T0.replace(minute=10),
    }
    clock.now = T0.replace(minute=10)
    assert [run.name for run in scheduler.run_pending()] == ["drain-lookups", "update-stats"]
