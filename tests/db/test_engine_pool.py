"""Earmark's engines: autocommit reads, pool size, the ping of idle connections, generic plans.

PostgreSQL connections are broken for real: ``pg_terminate_backend`` from another connection,
as a database restart or an idle timeout would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import pytest
import sqlalchemy as sa

from earmark.db import engine as engine_module
from earmark.db import tracks
from earmark.db.engine import (
    Databases,
    create_engine,
    pool_options,
    read_connection,
    url_key,
    write_transaction,
)
from earmark.errors import ConfigError
from earmark.settings import Secret, Settings
from tests.services import PostgresDatabases, SqliteDatabases

WAIT_S = 10.0
IDLE = psycopg.pq.TransactionStatus.IDLE
INTRANS = psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture(scope="module")
def pg_url(pg_databases: PostgresDatabases) -> str:
    return pg_databases.create(migrated=False)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    """One pooled connection, so that each checkout gets the same one while it lives."""
    found = create_engine(pg_url, pool_size=1, max_overflow=0)
    yield found
    found.dispose()


def _status(conn: sa.Connection) -> psycopg.pq.TransactionStatus:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver.info.transaction_status


def _backend(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(admin: sa.Engine, pid: int) -> None:
    """End the backend ``pid`` and wait until it is gone."""
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        deadline = time.monotonic() + WAIT_S
        query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        while conn.execute(query, {"pid": pid}).scalar_one():
            assert time.monotonic() < deadline, f"backend {pid} did not end"
            time.sleep(0.02)


# Autocommit reads.


def test_a_postgresql_read_opens_no_transaction(pg_engine: sa.Engine) -> None:
    with read_connection(pg_engine) as conn:
        first = conn.execute(sa.text("SELECT now()")).scalar_one()
        assert _status(conn) == IDLE
        second = conn.execute(sa.text("SELECT now()")).scalar_one()
        # now() is the start of the transaction: each statement had its own.
        assert second > first
    # The same pooled connection is transactional again for everyone else.
    with pg_engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        assert _status(conn) == INTRANS
        conn.rollback()
    with write_transaction(pg_engine) as conn:
        first = conn.execute(sa.text("SELECT now()")).scalar_one()
        assert _status(conn) == INTRANS
        assert conn.execute(sa.text("SELECT now()")).scalar_one() == first


def test_a_sqlite_read_is_a_plain_transaction_that_does_not_block_writers(
    sqlite_databases: SqliteDatabases,
) -> None:
    dbs = Databases.single(sqlite_databases.create())
    try:
        with read_connection(dbs.fingerprint) as conn:
            assert tracks.count(conn) == 0
            assert conn.in_transaction()
            # The read holds no write lock (a BEGIN IMMEDIATE would make this wait).
            with write_transaction(dbs.fingerprint) as writer:
                tracks.insert(writer)
        with read_connection(dbs.fingerprint) as conn:
            assert tracks.count(conn) == 1
    finally:
        dbs.dispose()


# Pool size.


def test_pool_options_follow_the_setting() -> None:
    assert pool_options(Settings(database_pool_size=3)) == {"pool_size": 3, "max_overflow": 3}
    assert pool_options(Settings()) == {"pool_size": 10, "max_overflow": 10}


def test_databases_are_pooled_as_the_setting_says(pg_url: str) -> None:
    settings = Settings(database_url=Secret(pg_url), database_pool_size=2)
    dbs = Databases.from_settings(settings, pool_timeout=0.2)
    engine = dbs.fingerprint
    try:
        with ExitStack() as stack:
            for _ in range(4):  # the pool, then as many again
                stack.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
            with pytest.raises(sa.exc.TimeoutError):
                engine.connect()
        assert isinstance(engine.pool, sa.QueuePool)
        assert engine.pool.checkedin() == 2  # the overflow was closed when returned
    finally:
        dbs.dispose()


def test_an_in_memory_sqlite_engine_ignores_the_pool_size() -> None:
    memory = create_engine("sqlite://", pool_size=3, max_overflow=3)
    try:
        with read_connection(memory) as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        memory.dispose()


# The ping of idle connections.


def test_a_connection_idle_long_enough_is_pinged_and_replaced_when_dead(
    pg_engine: sa.Engine, pg_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    with read_connection(pg_engine) as conn:
        dead = _backend(conn)
    _terminate(pg_databases.admin, dead)
    with read_connection(pg_engine) as conn:
        replacement = _backend(conn)
        assert conn.exec_driver_sql("SELECT 41 + 1").scalar_one() == 42
    assert replacement != dead
    # A live connection survives its ping: the pool keeps it.
    with read_connection(pg_engine) as conn:
        assert _backend(conn) == replacement


def test_a_recently_used_connection_is_not_pinged(
    pg_engine: sa.Engine, pg_databases: PostgresDatabases
) -> None:
    """Without the ping the broken connection fails its first statement, marked as a
    disconnect (what the lookup retries on), and the pool replaces it afterwards."""
    assert engine_module.PING_AFTER_IDLE_S >= 10
    with read_connection(pg_engine) as conn:
        dead = _backend(conn)
    _terminate(pg_databases.admin, dead)
    with pytest.raises(sa.exc.OperationalError) as raised, read_connection(pg_engine) as conn:
        conn.exec_driver_sql("SELECT 1")
    assert raised.value.connection_invalidated
    with read_connection(pg_engine) as conn:
        assert _backend(conn) != dead


# Generic plans.


def _plan_cache_mode(conn: sa.Connection) -> str:
    return str(conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one())


def test_generic_plans_are_set_on_every_connection(
    pg_url: str, pg_databases: PostgresDatabases
) -> None:
    generic = create_engine(pg_url, generic_plans=True, pool_size=1, max_overflow=0)
    try:
        with read_connection(generic) as conn:
            assert _plan_cache_mode(conn) == "force_generic_plan"
            pid = _backend(conn)
        # Kept across transactions and the pool's reset, and set on a new connection too.
        with write_transaction(generic) as conn:
            assert _plan_cache_mode(conn) == "force_generic_plan"
        with generic.connect() as conn:
            assert _plan_cache_mode(conn) == "force_generic_plan"
        _terminate(pg_databases.admin, pid)
        with pytest.raises(sa.exc.OperationalError), generic.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        with read_connection(generic) as conn:
            assert _backend(conn) != pid
            assert _plan_cache_mode(conn) == "force_generic_plan"
    finally:
        generic.dispose()


def test_without_generic_plans_postgresql_decides(pg_engine: sa.Engine) -> None:
    with read_connection(pg_engine) as conn:
        assert _plan_cache_mode(conn) == "auto"


def test_generic_plans_change_nothing_on_sqlite(sqlite_databases: SqliteDatabases) -> None:
    sqlite = create_engine(sqlite_databases.create(migrated=False), generic_plans=True)
    try:
        with read_connection(sqlite) as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        sqlite.dispose()


# URL keys.


def test_url_key_tells_databases_apart() -> None:
    plain = "postgresql://earmark:s3cret@db.example:5432/earmark"
    key = url_key(plain)
    assert key == url_key("postgresql+psycopg://earmark:s3cret@db.example:5432/earmark")
    assert key == url_key("postgres://earmark:s3cret@db.example:5432/earmark")
    assert key == url_key(sa.make_url(plain))
    assert "s3cret" in key  # two passwords, two ways in: never hidden into one key
    assert key != url_key("postgresql://earmark:s3cret@db.example:5432/other")
    assert key != url_key("postgresql://earmark:s3cret@db2.example:5432/earmark")
    assert key != url_key("postgresql://reader:s3cret@db.example:5432/earmark")
    assert url_key("sqlite:///data/a.db") != url_key("sqlite:///data/b.db")
    with pytest.raises(ConfigError):
        url_key("mysql://db.example/earmark")


def test_roles_on_one_database_spelled_two_ways_share_an_engine() -> None:
    url = "postgresql://earmark@db.example/earmark"
    dbs = Databases(
        {
            "app": url,
            "fingerprint": "postgresql+psycopg://earmark@db.example/earmark",
            "ingest": url,
        }
    )
    try:
        assert dbs.one_database
        assert dbs.app is dbs.fingerprint is dbs.ingest
    finally:
        dbs.dispose()
