"""`earmark run cron` through click's CliRunner, on real databases and the real Redis."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner

from earmark.cli import run_cron
from earmark.cli.run_cron import CronError, cron
from earmark.counters import RedisCounters
from earmark.cron import CronRuntime, Job, open_cron
from earmark.cron.schedule import daily
from earmark.db import stats
from earmark.db.engine import Databases, write_transaction
from earmark.db.tables import stats_lookups
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.settings import Settings
from tests.cron import data
from tests.services import REDIS_URL, SqliteDatabases


@pytest.fixture
def env(sqlite_databases: SqliteDatabases, tmp_path: Path) -> dict[str, str]:
    return {
        "EARMARK_DATA_DIR": str(tmp_path / "data"),
        "EARMARK_DATABASE_URL": sqlite_databases.create(),
        "EARMARK_MUSICBRAINZ_DATABASE_URL": f"sqlite:///{tmp_path}/musicbrainz.db",
        "EARMARK_REDIS_URL": "",
    }


def test_list_shows_every_job(env: dict[str, str]) -> None:
    result = CliRunner(env=env).invoke(cron, ["--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [
        "drain-lookups",
        "drain-user-agents",
        "check-reported-mbids",
        "sweep-mbids",
        "update-stats",
    ]
    assert "daily at 00:10 UTC" in lines[-1]


def test_once_update_stats(env: dict[str, str]) -> None:
    result = CliRunner(env=env).invoke(cron, ["--once", "update-stats", "--once", "sweep-mbids"])
    assert result.exit_code == 0, result.output
    today = dt.datetime.now(dt.UTC).date()
    assert f"update-stats: 34 figures stored for {today.isoformat()}" in result.output
    assert "sweep-mbids: no MusicBrainz mirror" in result.output  # the mirror file is empty
    dbs = Databases.single(env["EARMARK_DATABASE_URL"])
    try:
        with dbs.app.connect() as conn:
            assert stats.has_figures(conn, today)
    finally:
        dbs.dispose()


def test_once_drains_what_other_processes_counted_in_redis(
    env: dict[str, str], redis_client: redis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    mirror = MusicBrainzDatabase.from_url(env["EARMARK_MUSICBRAINZ_DATABASE_URL"])
    mirror.create_schema()
    mirror.dispose()
    dbs = Databases.single(env["EARMARK_DATABASE_URL"])
    try:
        with write_transaction(dbs.app) as conn:
            app = data.add_application(conn, data.add_account(conn))
        api_process = RedisCounters(redis_client, redis_prefix)
        api_process.count_lookup(app, hit=False, count=3)
        env = {**env, "EARMARK_REDIS_URL": REDIS_URL, "EARMARK_REDIS_PREFIX": redis_prefix}
        result = CliRunner(env=env).invoke(
            cron, ["--once", "drain-lookups", "--once", "check-reported-mbids"]
        )
        assert result.exit_code == 0, result.output
        assert "drain-lookups: 1 batches, 1 rows" in result.output
        assert "check-reported-mbids: 0 checked" in result.output
        with dbs.app.connect() as conn:
            misses = conn.execute(sa.select(sa.func.sum(stats_lookups.c.count_nohits))).scalar()
        assert misses == 3
    finally:
        dbs.dispose()


def test_a_failing_job_exits_1(env: dict[str, str], sqlite_databases: SqliteDatabases) -> None:
    dbs = Databases.single(env["EARMARK_DATABASE_URL"])
    try:
        with write_transaction(dbs.app) as conn:  # a table the job needs is gone
            conn.execute(sa.text("DROP TABLE stats_drain"))
    finally:
        dbs.dispose()
    result = CliRunner(env=env).invoke(cron, ["--once", "drain-lookups"])
    assert result.exit_code == 1
    assert "drain-lookups: failed:" in result.stderr


def test_an_unmigrated_database_is_refused(
    env: dict[str, str], sqlite_databases: SqliteDatabases
) -> None:
    env = {**env, "EARMARK_DATABASE_URL": sqlite_databases.create(migrated=False)}
    result = CliRunner(env=env).invoke(cron, ["--once", "update-stats"])
    assert isinstance(result.exception, CronError)
    assert "earmark db upgrade" in str(result.exception)


def test_sigterm_stops_the_loop_after_a_last_drain(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs = Databases.single(env["EARMARK_DATABASE_URL"])
    with write_transaction(dbs.app) as conn:
        app = data.add_application(conn, data.add_account(conn))

    def open_with_a_signalling_job(settings: Settings) -> CronRuntime:
        runtime = open_cron(settings)

        def count_then_terminate() -> str:
            runtime.backends.counters.count_lookup(app, hit=True)
            signal.raise_signal(signal.SIGTERM)  # as `kill` would, while the loop runs
            return "signalled"

        always = Job("signal", daily(), count_then_terminate, catch_up=lambda now: True)
        runtime.scheduler.jobs.append(always)
        return runtime

    monkeypatch.setattr(run_cron, "open_cron", open_with_a_signalling_job)
    before = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner(env=env).invoke(cron, [])
        assert result.exit_code == 0, result.output
        assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
        with dbs.app.connect() as conn:
            hits = conn.execute(sa.select(sa.func.sum(stats_lookups.c.count_hits))).scalar()
        assert hits == 1  # the in-memory count was drained on the way out
    finally:
        dbs.dispose()
