"""Real PostgreSQL, Redis and NATS for the tests: found, or skipped (failed when CI=true).

Every test run gets its own PostgreSQL databases (created from one migrated template, dropped at
the end), its own Redis key prefix and its own NATS stream names, so runs never see each other.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from earmark.db import migrate
from earmark.db.engine import Databases
from tests.support import IN_CI

PG_ADMIN_URL = os.environ.get(
    "EARMARK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("EARMARK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("EARMARK_TEST_NATS_URL", "nats://127.0.0.1:4222")
RUN_ID = uuid.uuid4().hex[:10]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (outside CI) or fail (CI=true) when a service does not answer."""
    if _reachable(host, port):
        return
    message = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(message + "; CI must have it (see the README's test section)")
    pytest.skip(message)


def require_postgres() -> None:
    url = sa.make_url(PG_ADMIN_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)


def require_redis() -> None:
    url = sa.make_url(REDIS_URL.replace("redis://", "redis+x://"))
    require_service("Redis", url.host or "127.0.0.1", url.port or 6379)


def require_nats() -> None:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    require_service("NATS", host, int(port or 4222))


@dataclass
class PostgresDatabases:
    """Creates databases for one test session on the real server and drops them afterwards."""

    admin: sa.Engine
    created: list[str] = field(default_factory=list)
    template: str | None = None

    def url(self, name: str) -> str:
        return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool = True) -> str:
        """A fresh database (migrated to head by copying a template) and its URL."""
        name = f"earmark_test_{RUN_ID}_{len(self.created)}"
        template = self._template() if migrated else None
        with self.admin.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
        self.created.append(name)
        return self.url(name)

    def _template(self) -> str:
        if self.template is None:
            name = f"earmark_test_{RUN_ID}_template"
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            self.created.append(name)
            dbs = Databases.single(self.url(name))
            migrate.upgrade(dbs)
            dbs.dispose()
            self.template = name
        return self.template

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.created.clear()
        self.admin.dispose()


def postgres_databases() -> Iterator[PostgresDatabases]:
    require_postgres()
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    databases = PostgresDatabases(admin)
    try:
        yield databases
    finally:
        databases.drop_all()


@dataclass
class SqliteDatabases:
    """Fresh SQLite files, each a copy of one migrated template."""

    root: Path
    count: int = 0
    template: Path | None = None

    def create(self, *, migrated: bool = True) -> str:
        self.count += 1
        path = self.root / f"db{self.count}.sqlite"
        if migrated:
            shutil.copyfile(self._template(), path)
        return f"sqlite:///{path}"

    def _template(self) -> Path:
        if self.template is None:
            path = self.root / "template.sqlite"
            dbs = Databases.single(f"sqlite:///{path}")
            migrate.upgrade(dbs)
            dbs.dispose()
            self.template = path
        return self.template
