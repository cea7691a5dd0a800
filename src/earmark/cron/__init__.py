"""Background jobs: counter drains, MBID maintenance, the daily statistics (docs/cron.md).

In-process (``earmark serve``)::

    scheduler = build_scheduler(dbs, backends, mirror)   # services owned by the caller
    scheduler.start()
    ...
    scheduler.stop()      # drains the counters one last time

As a process (``earmark run cron``): :func:`open_cron` builds the services from settings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from earmark.counters import CounterBackends, open_backends
from earmark.cron.jobs import JOB_NAMES, CronConfig, CronJobs, build_scheduler
from earmark.cron.opendata import OpenDataImport
from earmark.cron.scheduler import Job, JobRun, Scheduler
from earmark.db.engine import Databases
from earmark.index.client import HttpIndexClient
from earmark.indexsync import flush_outbox
from earmark.musicbrainz.replication_source import configured_source
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.settings import Settings

__all__ = [
    "JOB_NAMES",
    "CronConfig",
    "CronJobs",
    "CronRuntime",
    "Job",
    "JobRun",
    "Scheduler",
    "build_scheduler",
    "open_cron",
]


@dataclass
class CronRuntime:
    """A scheduler with the services it owns (``earmark run cron``); ``close()`` when done."""

    scheduler: Scheduler
    dbs: Databases
    backends: CounterBackends
    mirror: MusicBrainzDatabase

    def close(self) -> None:
        self.backends.close()
        self.mirror.dispose()
        self.dbs.dispose()


def _open_data(settings: Settings, dbs: Databases) -> OpenDataImport | None:
    """The open data import of the cron role; its fingerprints go to the index server (with
    no index_url they wait in the outbox for `earmark index sync`)."""
    if not settings.data_import_url:
        return None
    if not settings.index_url:
        return OpenDataImport(settings.data_import_url)
    client = HttpIndexClient(settings.index_url)
    return OpenDataImport(
        settings.data_import_url,
        functools.partial(flush_outbox, dbs, client, settings.index_name),
    )


def open_cron(settings: Settings, config: CronConfig | None = None) -> CronRuntime:
    """Databases, counters (``redis_url``; empty: memory) and the mirror, from settings."""
    dbs = Databases.from_settings(settings)
    backends = open_backends(str(settings.redis_url), settings.redis_prefix)
    mirror = MusicBrainzDatabase.from_settings(settings)
    scheduler = build_scheduler(
        dbs,
        backends,
        mirror,
        config,
        replication=configured_source(settings),
        open_data=_open_data(settings, dbs),
    )
    return CronRuntime(scheduler, dbs, backends, mirror)
