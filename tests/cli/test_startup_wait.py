"""`earmark run ROLE` waits for an unreachable PostgreSQL at start instead of exiting.

The database is reached through a TCP relay (tests/tcp_proxy.py) that refuses connections until
the role has said it is waiting, as a PostgreSQL container that is still starting would.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.serve.process import (
    Process,
    clean_environment,
    earmark_command,
    free_port,
    run_earmark,
    wait_until,
)
from tests.services import PostgresDatabases
from tests.tcp_proxy import TcpProxy


def test_importer_waits_for_postgresql_then_runs(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = sa.make_url(pg_databases.create())
    relay = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    relay.cut()  # refuses connections until restored, as a PostgreSQL still starting would
    port = relay.port
    try:
        relayed = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        env = clean_environment(
            EARMARK_DATABASE_URL=relayed,
            EARMARK_DATA_DIR=str(tmp_path),
            EARMARK_STARTUP_WAIT_SECONDS="60",
        )
        proc = Process([*earmark_command(), "run", "importer", "--until-idle"], env)
        try:
            wait_until(lambda: proc.stderr.count("waiting for PostgreSQL") >= 2, 60, "waits")
            relay.restore()
            code = proc.wait(60)
        finally:
            proc.stop()
    finally:
        relay.close()
    assert code == 0, proc.describe()
    waits = [line for line in proc.stderr.splitlines() if "waiting for PostgreSQL" in line]
    assert f"127.0.0.1:{port} (database_url): Connection refused (attempt 1," in waits[0]
    assert "every service answers" in proc.stderr
    assert "imported 0" in proc.stdout


def test_zero_wait_fails_at_once_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = clean_environment(
        EARMARK_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/nothing",
        EARMARK_DATA_DIR=str(tmp_path),
        EARMARK_STARTUP_WAIT_SECONDS="0",
    )
    result = run_earmark(["run", "importer", "--once"], env)
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("earmark: error:")]
    assert errors == [
        f"earmark: error: earmark run importer: unreachable after 0 s (startup_wait_seconds): "
        f"PostgreSQL at 127.0.0.1:{port} (database_url): Connection refused"
    ]
    assert "Traceback" not in result.stderr


def test_missing_setting_stops_before_any_wait(tmp_path: Path) -> None:
    # No redis_url: `run api` refuses at once even though its database is unreachable too.
    env = clean_environment(
        EARMARK_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        EARMARK_INDEX_URL="http://127.0.0.1:1",
        EARMARK_DATA_DIR=str(tmp_path),
        EARMARK_STARTUP_WAIT_SECONDS="60",
    )
    result = run_earmark(["run", "api", "--port", str(free_port())], env)
    assert result.returncode == 2
    assert "needs redis_url" in result.stderr
    assert "waiting for" not in result.stderr
    assert "Traceback" not in result.stderr


def test_hostile_urls_have_nothing_to_wait_for(tmp_path: Path) -> None:
    # A malformed port is refused by the settings check with one line, never waited on.
    env = clean_environment(
        EARMARK_DATABASE_URL="postgresql://postgres@127.0.0.1:99999/x",
        EARMARK_DATA_DIR=str(tmp_path),
    )
    result = run_earmark(["run", "importer", "--once"], env)
    assert result.returncode == 2
    assert "waiting for" not in result.stderr
    assert "Traceback" not in result.stderr
