"""The `import-open-data` cron job and the `earmark_open_data_*` metrics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from earmark.api.metrics_opendata import OpenDataCollector
from earmark.counters import open_backends
from earmark.cron import build_scheduler
from earmark.cron.opendata import OpenDataImport
from earmark.db.engine import Databases
from tests.opendata.test_sources import DAY, days
from tests.services import SqliteDatabases


def test_the_job_applies_new_days_and_the_metrics_show_the_lag(
    sqlite_databases: SqliteDatabases, tmp_path: Path
) -> None:
    dbs = Databases.single(sqlite_databases.create())
    backends = open_backends()
    try:
        flushed: list[int] = []
        job = OpenDataImport(str(tmp_path), lambda: flushed.append(1))
        scheduler = build_scheduler(dbs, backends, None, open_data=job)
        assert "import-open-data" in [j.name for j in scheduler.jobs]
        days(tmp_path, 2)
        first = scheduler.run_once("import-open-data")
        assert first.ok, first
        assert first.summary == "2 days, 8 rows applied; 0 data problems"
        assert flushed == [1, 1]  # after each day
        days(tmp_path, 3)  # a new day appears
        assert scheduler.run_once("import-open-data").summary == (
            "1 days, 4 rows applied; 0 data problems"
        )

        now = dt.datetime.combine(DAY + dt.timedelta(days=4), dt.time(6), dt.UTC)
        registry = CollectorRegistry()
        registry.register(OpenDataCollector(dbs, clock=lambda: now))
        text = generate_latest(registry).decode()
        assert "earmark_open_data_up 1.0" in text
        # The last day applied is 2025-03-03: it ended a day and six hours before `now`.
        lag = 30 * 3600.0
        assert (
            f'earmark_open_data_lag_seconds{{provenance="acoustid-public",stream="track"}} {lag}'
            in text
        )
    finally:
        backends.close()
        dbs.dispose()


def test_metrics_without_the_tables_say_down(sqlite_databases: SqliteDatabases) -> None:
    dbs = Databases.single(sqlite_databases.create(migrated=False))
    try:
        registry = CollectorRegistry()
        registry.register(OpenDataCollector(dbs))
        text = generate_latest(registry).decode()
        assert "earmark_open_data_up 0.0" in text
        assert "earmark_open_data_lag_seconds{" not in text
    finally:
        dbs.dispose()
