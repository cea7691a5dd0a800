"""Engines for Earmark's databases: URL resolution, SQLite's single writer, PostgreSQL's driver.

Three logical databases (roles) hold Earmark's own tables: ``app`` (accounts, applications,
stats), ``fingerprint`` (tracks, fingerprints, links) and ``ingest`` (submissions and their
provenance). By default they are one physical database; each role may have its own URL
(settings ``fingerprint_database_url``, ``ingest_database_url``). The MusicBrainz mirror is a
fourth database, read by :mod:`earmark.musicbrainz`.

SQLite runs in WAL mode: readers never wait, and writes go through one writer at a time
(``BEGIN IMMEDIATE`` under a per-engine lock), with ``synchronous=FULL`` so that a commit is on
disk before it is acknowledged.

PostgreSQL connections are pooled for the life of the process (``database_pool_size``; a burst
beyond it opens as many again, closed when returned). A pooled connection idle for longer than
:data:`PING_AFTER_IDLE_S` is pinged before use, so one the server or a firewall dropped in the
meantime is replaced instead of failing a request; a busy connection is not pinged (a ping per
checkout is a round trip per request). A connection that breaks in use fails its statement,
and the pool then replaces every connection opened before the break (SQLAlchemy's
invalidation), so a database restart costs each process one failed attempt; the lookup path
retries that attempt once. Read connections run in autocommit on PostgreSQL: no BEGIN and
ROLLBACK round trips, and psycopg keeps its prepared statements (a ROLLBACK discards them).
At PostgreSQL's default READ COMMITTED each statement sees its own snapshot either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from earmark.errors import ConfigError
from earmark.settings import Settings
from earmark.tracing import ACTIVE_TRACER, STATEMENT_CHARS

Role = Literal["app", "fingerprint", "ingest"]
ROLES: tuple[Role, ...] = ("app", "fingerprint", "ingest")

_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL statement timeout inside `Databases.write()` transactions (reference §9.2: 60 s).
WRITE_STATEMENT_TIMEOUT_MS = 60_000
_WRITE_OPTION = "earmark_write"
#: A pooled PostgreSQL connection idle for longer than this is pinged before it is used.
PING_AFTER_IDLE_S = 30.0

#: Statements that take longer than this many seconds are logged, with the request's id.
SLOW_STATEMENT_S = 1.0
_IDLE_SINCE = "earmark_idle_since"

log = logging.getLogger(__name__)


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


def pool_options(settings: Settings) -> dict[str, Any]:
    """The connection pool's size (setting ``database_pool_size``) as engine keyword arguments."""
    return {"pool_size": settings.database_pool_size, "max_overflow": settings.database_pool_size}


def musicbrainz_url(settings: Settings) -> str:
    """The mirror's URL; refused (:class:`ConfigError`) when it is the SQLite file of one of
    Earmark's own databases."""
    url = str(settings.musicbrainz_database_url) or default_musicbrainz_url(settings)
    mirror_file = sqlite_file(url)
    if mirror_file is not None:
        for role, role_url in role_urls(settings).items():
            if sqlite_file(role_url) == mirror_file:
                # SQLite has no schemas within a file (an ATTACHed database is another file),
                # and both sets of tables have a `track` (and Earmark's has no `medium`).
                own_file = mirror_file.parent / "musicbrainz.db"
                raise ConfigError(
                    f"musicbrainz_database_url names {mirror_file}, the SQLite file of Earmark's "
                    f"{role} database: both have a table named track. Give the MusicBrainz "
                    f"mirror a file of its own, e.g. sqlite:///{own_file} "
                    "(or leave musicbrainz_database_url empty: <data_dir>/musicbrainz.db)"
                )
    return url


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names, as an absolute path; None for other databases and for
    in-memory SQLite (each connection its own database)."""
    parsed = normalize_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename (?uri=true)
        database = database[len("file:") :].split("?", 1)[0]
        if not database or database == ":memory:":
            return None
    return Path(database).expanduser().resolve()


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


def url_key(url: str | URL) -> str:
    """What tells two URLs of one database apart from URLs of two (driver names normalised)."""
    return normalize_url(url).render_as_string(hide_password=False)


def redact(url: str) -> str:
    """A URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def create_engine(
    url: str | URL,
    *,
    generic_plans: bool = False,
    slow_statement_s: float = SLOW_STATEMENT_S,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url`` with Earmark's connection rules (see the module docstring).

    ``generic_plans`` (PostgreSQL; the web service's lookups): each connection plans a prepared
    statement once (``plan_cache_mode = force_generic_plan``). PostgreSQL otherwise keeps
    re-planning statements keyed by ``= ANY(array)``, whose generic plan it estimates
    pessimistically; for the lookup's many-join MusicBrainz query planning costs more than
    running it, and every lookup statement is an index lookup by a list of keys, which the
    generic plan does as well.

    Statements slower than ``slow_statement_s`` are logged (see :func:`_log_slow_statements`).
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, **kwargs)
        _log_slow_statements(engine, slow_statement_s)
        _trace_statements(engine)
        return engine
    engine = sa.create_engine(parsed, **kwargs)
    _log_slow_statements(engine, slow_statement_s)
    _trace_statements(engine)
    _ping_when_idle(engine)
    if generic_plans:

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET plan_cache_mode = force_generic_plan")
            dbapi_connection.commit()

    return engine


def _log_slow_statements(engine: Engine, threshold_s: float) -> None:
    """Log each statement that took longer than ``threshold_s`` at WARNING.

    This is where the HTTP request id reaches the database layer: the log line carries the id
    of the request that ran the statement (earmark.logs). The id is not sent to the server: a
    connection's application_name outlives a request in the pool, and a per-request SQL
    comment would make every statement text unique to PostgreSQL's statement statistics.
    """

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _started(*args: Any) -> None:
        context = args[4]
        if context is not None:
            context._earmark_started = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _finished(*args: Any) -> None:
        # (connection, cursor, statement, parameters, context, executemany)
        sql, context = str(args[2]), args[4]
        started = getattr(context, "_earmark_started", None)
        if started is None:
            return
        took = time.perf_counter() - started
        if took >= threshold_s:
            log.warning("slow statement (%.3f s): %s", took, " ".join(sql.split())[:500])


def _trace_statements(engine: Engine) -> None:
    """A span per statement run while a request span is active (earmark.tracing)."""
    system = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _started(*args: Any) -> None:
        tracer, context = ACTIVE_TRACER.get(), args[4]
        if tracer is None or context is None:
            return
        sql = " ".join(str(args[2]).split())
        context._earmark_span = tracer.start_span(
            f"db {sql.split(' ', 1)[0].upper()}",
            attributes={"db.system": system, "db.statement": sql[:STATEMENT_CHARS]},
        )

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _finished(*args: Any) -> None:
        _end_span(args[4])

    @sa.event.listens_for(engine, "handle_error")
    def _failed(exception_context: Any) -> None:
        _end_span(exception_context.execution_context)


def _end_span(context: Any) -> None:
    span = getattr(context, "_earmark_span", None)
    if span is not None:
        context._earmark_span = None
        span.end()


def _ping_when_idle(engine: Engine) -> None:
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        # In autocommit: a ROLLBACK after the ping would make psycopg drop its prepared
        # statements, and a failed ping must not leave the connection in a failed transaction.
        autocommit = dbapi_connection.autocommit
        try:
            dbapi_connection.autocommit = True
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            alive = not dialect.is_disconnect(exc, dbapi_connection, None)
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit
        if not alive:
            # The pool replaces the connection and tries again (SQLAlchemy's documented way).
            raise sa.exc.DisconnectionError("pooled connection found closed")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        # An in-memory database lives in one connection per thread: no pool to size.
        kwargs = {k: v for k, v in kwargs.items() if k not in ("pool_size", "max_overflow")}
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
    """A connection for reading: autocommit on PostgreSQL (see the module docstring), a plain
    transaction on SQLite (never holding its write lock)."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn.execution_options(isolation_level="AUTOCOMMIT")
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
            key = url_key(urls[role])
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
        return cls(role_urls(settings), **{**pool_options(settings), **engine_kwargs})

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
