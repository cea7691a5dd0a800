"""Earmark's background jobs (reference §13) and how they are assembled.

| job | schedule | what |
|---|---|---|
| ``drain-lookups`` | every minute | lookup counters → ``stats_lookups`` |
| ``drain-user-agents`` | hourly at :00 | user-agent counters → ``stats_user_agents`` |
| ``check-reported-mbids`` | every 5 minutes | MBIDs the lookups reported missing from MusicBrainz |
| ``sweep-mbids`` | hourly at :30 | finish MBID outbox work, re-check due unknown MBIDs, sweep |
| ``update-stats`` | daily at 00:10 UTC | the ``stats`` figures of the day |
| ``replicate-musicbrainz`` | hourly at :10 | MusicBrainz replication packets (source set) |
| ``import-open-data`` | hourly at :40 | new days of AcoustID's public data (``data_import_url``) |

The drains also run when the loop stops (in-memory counters would otherwise be lost), and
``update-stats`` runs at start when today's figures are missing and 00:10 has passed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from earmark.counters import CounterBackends
from earmark.counters.drain import DrainReport, drain_lookups, drain_user_agents, forget_old_batches
from earmark.cron.mbids import UNKNOWN_AFTER, MbidMaintenance
from earmark.cron.opendata import OpenDataImport
from earmark.cron.schedule import MINUTELY, Every, daily, every_minutes, hourly
from earmark.cron.scheduler import Clock, Job, Scheduler, utc_now
from earmark.db import stats
from earmark.db.engine import Databases, read_connection, write_transaction
from earmark.musicbrainz.replication_source import PacketSource
from earmark.musicbrainz.schema import MusicBrainzDatabase

logger = logging.getLogger(__name__)

JOB_NAMES = (
    "drain-lookups",
    "drain-user-agents",
    "check-reported-mbids",
    "sweep-mbids",
    "update-stats",
    "replicate-musicbrainz",
    "import-open-data",
)


@dataclass(frozen=True)
class CronConfig:
    """Sizes and times of the jobs (defaults suit production; tests shrink them)."""

    reported_batch: int = 1000
    reported_max_batches: int = 10
    sweep_batch: int = 1000
    sweep_max_batches: int = 10
    unknown_after: dt.timedelta = UNKNOWN_AFTER
    # Packets one run applies at most: a long catch-up continues at the next runs.
    replication_max_packets: int = 24
    schedules: dict[str, Every] = field(
        default_factory=lambda: {
            "drain-lookups": MINUTELY,
            "drain-user-agents": hourly(0),
            "check-reported-mbids": every_minutes(5),
            "sweep-mbids": hourly(30),
            "update-stats": daily(0, 10),
            # MusicBrainz publishes a packet at the top of each hour.
            "replicate-musicbrainz": hourly(10),
            # AcoustID writes yesterday's files once a day; hourly catches them early.
            "import-open-data": hourly(40),
        }
    )


def _drain_summary(report: DrainReport) -> str:
    return (
        f"{report.batches} batches, {report.rows} rows, "
        f"{report.already_added} already added, {report.dropped} counts dropped"
    )


@dataclass
class CronJobs:
    """The job bodies, bound to the services they use."""

    dbs: Databases
    backends: CounterBackends
    mirror: MusicBrainzDatabase | None
    config: CronConfig
    clock: Clock = utc_now
    replication: PacketSource | None = None
    open_data: OpenDataImport | None = None

    def __post_init__(self) -> None:
        self.maintenance = (
            MbidMaintenance(self.dbs, self.mirror, unknown_after=self.config.unknown_after)
            if self.mirror is not None
            else None
        )

    def drain_lookups(self) -> str:
        report = drain_lookups(self.dbs.app, self.backends.counters)
        forget_old_batches(self.dbs.app, self.clock())
        return _drain_summary(report)

    def drain_user_agents(self) -> str:
        report = drain_user_agents(self.dbs.app, self.backends.counters)
        forget_old_batches(self.dbs.app, self.clock())
        return _drain_summary(report)

    def _maintenance(self) -> MbidMaintenance | None:
        if self.maintenance is None:
            return None
        if not self.maintenance.mirror_ready():
            logger.warning("the MusicBrainz mirror has no tables yet: MBIDs are not checked")
            return None
        return self.maintenance

    def check_reported_mbids(self) -> str:
        maintenance = self._maintenance()
        if maintenance is None:
            return "no MusicBrainz mirror"
        maintenance.finish_outbox()
        report = maintenance.check_reported(
            self.backends.missing_mbids,
            self.config.reported_batch,
            self.config.reported_max_batches,
        )
        return report.summary()

    def sweep_mbids(self) -> str:
        maintenance = self._maintenance()
        if maintenance is None:
            return "no MusicBrainz mirror"
        finished = maintenance.finish_outbox()
        report = maintenance.recheck_due(self.config.sweep_batch)
        report.add(maintenance.sweep(self.config.sweep_batch, self.config.sweep_max_batches))
        return f"{finished} outbox entries finished; {report.summary()}"

    def replicate_musicbrainz(self) -> str:
        from earmark.musicbrainz.replication import replicate

        if self.mirror is None or self.replication is None:
            return "no MusicBrainz mirror or packet source"
        run = replicate(
            self.mirror, self.replication, max_packets=self.config.replication_max_packets
        )
        for packet in run.packets:
            logger.info("MusicBrainz replication: %s", packet.summary())
        status = "current" if run.current else "more to come"
        return (
            f"{len(run.packets)} packets applied, sequence {run.state.replication_sequence} "
            f"({status})"
        )

    def import_open_data(self) -> str:
        if self.open_data is None:
            return "no data_import_url"
        return self.open_data.run(self.dbs)

    def update_stats(self) -> str:
        today = self.clock().date()
        # Count on read connections (SQLite's writer stays free for the importer), then write.
        with self.dbs.read() as conns:
            figures = stats.collect_figures(conns)
        with write_transaction(self.dbs.app) as conn:
            stats.store_figures(conn, today, figures)
        return f"{len(figures)} figures stored for {today.isoformat()}"

    def stats_missing(self, now: dt.datetime) -> bool:
        """True when today's figures are missing although today's run time has passed."""
        slot = self.config.schedules["update-stats"].last_at_or_before(now)
        if slot.date() != now.date():
            return False
        with read_connection(self.dbs.app) as conn:
            return not stats.has_figures(conn, now.date())

    def jobs(self) -> list[Job]:
        s = self.config.schedules
        jobs = [
            Job(
                "drain-lookups",
                s["drain-lookups"],
                self.drain_lookups,
                "lookup counters into stats_lookups",
                on_stop=True,
            ),
            Job(
                "drain-user-agents",
                s["drain-user-agents"],
                self.drain_user_agents,
                "user-agent counters into stats_user_agents",
                on_stop=True,
            ),
        ]
        if self.maintenance is not None:
            jobs += [
                Job(
                    "check-reported-mbids",
                    s["check-reported-mbids"],
                    self.check_reported_mbids,
                    "MBIDs reported missing by lookups: merge or time them",
                ),
                Job(
                    "sweep-mbids",
                    s["sweep-mbids"],
                    self.sweep_mbids,
                    "every linked MBID, in bounded batches; the 7-day rule",
                ),
            ]
        jobs.append(
            Job(
                "update-stats",
                s["update-stats"],
                self.update_stats,
                "the daily figures of the stats table",
                catch_up=self.stats_missing,
            )
        )
        if self.maintenance is not None and self.replication is not None:
            jobs.append(
                Job(
                    "replicate-musicbrainz",
                    s["replicate-musicbrainz"],
                    self.replicate_musicbrainz,
                    f"MusicBrainz replication packets from {self.replication.describe()}",
                )
            )
        if self.open_data is not None:
            jobs.append(
                Job(
                    "import-open-data",
                    s["import-open-data"],
                    self.import_open_data,
                    f"AcoustID's public data from {self.open_data.location}",
                )
            )
        return jobs


def build_scheduler(
    dbs: Databases,
    backends: CounterBackends,
    mirror: MusicBrainzDatabase | None,
    config: CronConfig | None = None,
    *,
    clock: Clock = utc_now,
    replication: PacketSource | None = None,
    open_data: OpenDataImport | None = None,
) -> Scheduler:
    """The scheduler with every job, over services the caller owns (and closes).

    ``earmark serve`` passes the same ``backends`` as its web app (with in-memory counters they
    must be the same objects) and calls ``start()`` / ``stop()``. Without a ``mirror`` the MBID
    jobs are left out; without a ``replication`` source (musicbrainz_replication_url or _dir)
    the replication job is; without ``open_data`` (data_import_url) the open data import is.
    """
    jobs = CronJobs(dbs, backends, mirror, config or CronConfig(), clock, replication, open_data)
    return Scheduler(jobs.jobs(), clock=clock)
