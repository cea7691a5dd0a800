"""Engines for Earmark's databases: URL resolution, SQLite's single writer, PostgreSQL's driver.

Three logical databases (roles) hold Earmark's own tables: ``app`` (accounts, applications,
stats), ``fingerprint`` (tracks, fingerprints, links) and ``ingest`` (submissions and their
provenance). By default they are one physical database; each role may have its own URL
(settings ``fingerprint_database_url``, ``ingest_database_url``). The MusicBrainz mirror is a
fourth database, read by :mod:`earmark.musicbrainz`.

SQLite runs in WAL mode: readers never wait, and writes go through one writer at a time
(``BEGIN IMMEDIATE`` under a per-engine lock), with ``synchronous=FULL`` so that a commit is on
disk before it is acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from earmark.errors import ConfigError
from earmark.settings import Settings

Role = Literal["app", "fingerprint", "ingest"]
ROLES: tuple[Role, ...] = ("app", "fingerprint", "ingest")

_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL statement timeout inside `Databases.write()` transactions (reference §9.2: 60 s).
WRITE_STATEMENT_TIMEOUT_MS = 60_000
_WRITE_OPTION = "earmark_write"


def default_database_url(settings: Settings) -> str:
    return f"sqlite:///{settings.data_dir / 'earmark.db'}"


def default_musicbrainz_url(settings: Settings) -> str:
    return f"sqlite:///{settings.data_dir / 'musicbrainz.db'}"


def role_urls(settings: Settings) -> dict[Role, str]:
    """The URL of each role's database, after the defaults are applied."""
    main = str(settings.database_url) or default_database_url(settings)
    return {
        "app": main,
        "fingerprint": str(settings.fingerprint_database_url) or main,
        "ingest": str(settings.ingest_database_url) or main,
    }


def musicbrainz_url(settings: Settings) -> str:
    return str(settings.musicbrainz_database_url) or default_musicbrainz_url(settings)


def normalize_url(url: str | URL) -> URL:
    """Parse a URL; plain ``postgresql://`` means psycopg 3 (the driver Earmark depends on)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"not a database URL: {redact(str(url))!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return parsed


def redact(url: str) -> str:
    """A URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def create_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Earmark's connection rules (see the module docstring)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    engine.info_lock = threading.RLock()  # type: ignore[attr-defined]

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN instead of pysqlite guessing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction; on SQLite it is the only writer of this process at a time."""
    if is_sqlite(engine):
        lock: threading.RLock = engine.info_lock  # type: ignore[attr-defined]
        with lock, engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
        return
    with engine.begin() as conn:
        yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reading (a plain transaction, never holding SQLite's write lock)."""
    with engine.connect() as conn:
        yield conn


@dataclass(frozen=True)
class Connections:
    """One open transaction per role; roles that share a database share the connection."""

    app: Connection
    fingerprint: Connection
    ingest: Connection


class Databases:
    """Earmark's own databases: one engine per distinct URL, shared by the roles on it."""

    def __init__(self, urls: dict[Role, str], **engine_kwargs: Any) -> None:
        self.urls = dict(urls)
        by_url: dict[str, Engine] = {}
        self.engines: dict[Role, Engine] = {}
        for role in ROLES:
            key = normalize_url(urls[role]).render_as_string(hide_password=False)
            if key not in by_url:
                by_url[key] = create_engine(key, **engine_kwargs)
            self.engines[role] = by_url[key]
        self._distinct = list(by_url.values())

    @classmethod
    def single(cls, url: str, **engine_kwargs: Any) -> Databases:
        """All three roles in one database."""
        return cls({"app": url, "fingerprint": url, "ingest": url}, **engine_kwargs)

    @classmethod
    def from_settings(cls, settings: Settings, **engine_kwargs: Any) -> Databases:
        return cls(role_urls(settings), **engine_kwargs)

    @property
    def app(self) -> Engine:
        return self.engines["app"]

    @property
    def fingerprint(self) -> Engine:
        return self.engines["fingerprint"]

    @property
    def ingest(self) -> Engine:
        return self.engines["ingest"]

    @property
    def one_database(self) -> bool:
        """True when the three roles live in one database (one transaction covers them all)."""
        return len(self._distinct) == 1

    def physical(self) -> list[tuple[Engine, tuple[Role, ...]]]:
        """Each distinct database with the roles it serves (for migrations)."""
        return [
            (engine, tuple(r for r in ROLES if self.engines[r] is engine))
            for engine in self._distinct
        ]

    @contextmanager
    def write(self) -> Iterator[Connections]:
        """A write transaction on every role. Commit order when split: app, fingerprint, ingest.

        With split databases a crash between two commits leaves the earlier ones committed.
        The app database only receives find-or-insert rows (sources, formats), harmless if the
        rest fails; the importer records what it did in the fingerprint database, which commits
        before the ingest database, so a retry finishes a half-committed import without
        counting it twice.
        """
        with self._open(write=True) as conns:
            yield conns

    @contextmanager
    def read(self) -> Iterator[Connections]:
        with self._open(write=False) as conns:
            yield conns

    @contextmanager
    def _open(self, *, write: bool) -> Iterator[Connections]:
        order: list[Engine] = []
        # The last opened commits first (see _nested): commits go app, fingerprint, ingest.
        roles: tuple[Role, ...] = ("ingest", "fingerprint", "app")
        for role in roles:
            engine = self.engines[role]
            if engine not in order:
                order.append(engine)
        opener = write_transaction if write else read_connection
        with _nested(opener, order) as opened:
            if write:
                for conn in opened:
                    if not is_sqlite(conn):
                        # As the reference's importer: a hung statement must not hold row and
                        # advisory locks for ever (it fails, rolls back, and is retried).
                        conn.exec_driver_sql(
                            f"SET LOCAL statement_timeout = {WRITE_STATEMENT_TIMEOUT_MS}"
                        )
            by_engine = dict(zip(order, opened, strict=True))
            yield Connections(
                app=by_engine[self.app],
                fingerprint=by_engine[self.fingerprint],
                ingest=by_engine[self.ingest],
            )

    def dispose(self) -> None:
        for engine in self._distinct:
            engine.dispose()


@contextmanager
def _nested(opener: Any, engines: list[Engine]) -> Iterator[list[Connection]]:
    """Open ``engines`` in order; the last opened is committed first."""
    if not engines:
        yield []
        return
    with opener(engines[0]) as first, _nested(opener, engines[1:]) as rest:
        yield [first, *rest]
