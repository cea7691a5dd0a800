"""Hot statements run on PostgreSQL's driver (psycopg) directly, outside SQLAlchemy's
execution path.

Every lookup reads its candidates' fingerprints with one statement. Through SQLAlchemy that
statement cost about 770 µs of client CPU on the project's reference machine; on the same
pooled connection through psycopg, with binary results (``bytea`` and integers arrive as
they are stored, no text to parse on either side), about 360 µs. :func:`fetch_all` keeps
what the rest of the code relies on:

* the statement is a SQLAlchemy construct, compiled once per dialect (its text is cached);
* it runs on the SQLAlchemy connection's own driver connection, so it sees that
  connection's transaction, settings and prepared statements;
* driver errors go through SQLAlchemy's error handling (``handle_error`` events, its
  ``OperationalError`` and so on, the pool invalidated on a disconnect), so a caller that
  retries on a fresh connection (lookups, after a database restart) works unchanged.

SQLAlchemy's cursor events (``before_cursor_execute``, ``after_cursor_execute``) do not see
these statements.

On SQLite (only for callers that ask, ``usable(conn, sqlite=True)``: the catalog's reads) the
statement runs on the ``sqlite3`` connection under the SQLAlchemy connection. Each list
parameter (an expanding ``IN``) is passed as one JSON array read through ``json_each``, so a
statement's text is the same whatever the lists hold: it is compiled once, and SQLite prepares
it once (``sqlite3``'s statement cache), where SQLAlchemy renders every id into new text at each
execution. The columns' own result and bind processing applies (UUIDs stored as hex come back
as :class:`uuid.UUID`), so rows hold what SQLAlchemy would hand back. A statement whose plan
needs the values themselves (SQLite pushes an ``IN`` list, not a subquery, into a view, and
turns ``a IN (…) OR b IN (…)`` into two index searches) says so with the execution option
:data:`INLINE_LISTS`: its integer lists are then written into its text, as SQLAlchemy would.

Rows are plain tuples in the order of the statement's columns (named tuples with
``named=True``: by position and by column label); no result processing is applied (a column of a
custom SQLAlchemy type arrives as the driver returns it), and the parameters reach the driver as
given (psycopg adapts Python's own types). A schema translate map (``schema_map``) is rendered
into the statement's text when it is compiled, as SQLAlchemy would at execution.
"""

from __future__ import annotations

import collections
import functools
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Connection, Dialect

SchemaMap = Mapping[str | None, str | None]
Statement = sa.Select[Any] | sa.CompoundSelect[Any]
Schemas = tuple[tuple[str | None, str | None], ...]


def usable(conn: Connection, *, sqlite: bool = False) -> bool:
    """Whether :func:`fetch_all` can run on ``conn``: PostgreSQL through psycopg 3, and with
    ``sqlite`` SQLite through ``sqlite3``."""
    if sqlite and conn.dialect.name == "sqlite":
        return conn.dialect.driver == "pysqlite"
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def fetch_all(
    conn: Connection,
    statement: Statement,
    parameters: Mapping[str, Any],
    *,
    schema_map: SchemaMap | None = None,
    named: bool = False,
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` run with ``parameters`` on ``conn`` (see :func:`usable`)."""
    schemas = tuple(sorted(schema_map.items(), key=repr)) if schema_map else ()
    if conn.dialect.name == "sqlite":
        return _fetch_sqlite(conn, statement, parameters, schemas)
    sql, defaults = _compiled(statement, conn.dialect, schemas)
    if defaults:  # values bound in the statement itself (``sa.literal``, ``func.f(1)``)
        parameters = {**defaults, **parameters}
    pooled = conn.connection
    driver = pooled.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"fetch_all needs a psycopg connection, not {type(driver).__name__}")
    try:
        cursor = _cursor(pooled.info, driver, named)
        cursor.execute(sql, parameters)
        rows: list[Any] = cursor.fetchall()
        return rows
    except psycopg.Error as exc:
        # SQLAlchemy's own error handling, as if it had run the statement: its handle_error
        # event, its error classes, and on a disconnect the pool invalidated (every pooled
        # connection opened before the break is replaced, not only this one) with
        # ``connection_invalidated`` set. A private method, stable across SQLAlchemy 2.0 and
        # 2.1 (the pinned range); tests/api/test_lookup_reconnect.py plays a real restart.
        conn._handle_dbapi_exception(exc, sql, dict(parameters), None, None)


#: Where a pooled connection keeps its cursors for :func:`fetch_all` (the pool's per-connection
#: ``info``, which outlives a reconnect: the cursors are kept with the driver connection they
#: belong to).
CURSORS = "earmark_driver_cursors"


def _cursor(
    info: dict[Any, Any], driver: psycopg.Connection[Any], named: bool
) -> psycopg.Cursor[Any]:
    """The connection's own cursor for :func:`fetch_all` (binary; named tuples when ``named``).

    Made once per driver connection and reused by every statement after (a connection runs one
    statement at a time: it is checked out of the pool by one thread): a new cursor per
    statement cost about a third of the client's CPU for a short statement.
    """
    kept = info.get(CURSORS)
    if kept is None or kept[0] is not driver:
        kept = info[CURSORS] = (
            driver,
            driver.cursor(binary=True),
            driver.cursor(binary=True, row_factory=namedtuple_row),
        )
    cursor: psycopg.Cursor[Any] = kept[2] if named else kept[1]
    return cursor


@functools.lru_cache(maxsize=128)
def _compiled(
    statement: Statement,
    dialect: Dialect,
    schemas: tuple[tuple[str | None, str | None], ...],
) -> tuple[str, dict[str, Any]]:
    # Statements passed here are built once (module constants, functools.cache): caching by
    # identity compiles each once per dialect and schema map.
    if schemas:
        compiled = statement.compile(
            dialect=dialect,
            schema_translate_map=dict(schemas),
            render_schema_translate=True,
        )
    else:
        compiled = statement.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


#: Where SQLAlchemy would expand a list parameter into one value per item.
_EXPANDING = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")
#: Execution option of a statement whose integer lists :func:`fetch_all` writes into the
#: statement's text on SQLite (those SQLAlchemy renders inline, ``literal_execute``).
INLINE_LISTS = "earmark_inline_lists"


class _SqliteStatement:
    """A statement compiled once for :func:`_fetch_sqlite`: its text with each list parameter
    read from a JSON array, the parameters' bind processors and the row type."""

    def __init__(self, statement: Statement, default_schema: str | None, schemas: Schemas) -> None:
        dialect = pysqlite.dialect(paramstyle="named")
        dialect.default_schema_name = default_schema
        if schemas:
            compiled = statement.compile(
                dialect=dialect,
                schema_translate_map=dict(schemas),
                render_schema_translate=True,
            )
        else:
            compiled = statement.compile(dialect=dialect)
        self.inline = frozenset(
            bind.key
            for bind in compiled.literal_execute_params
            if statement.get_execution_options().get(INLINE_LISTS)
            and isinstance(bind.type, sa.Integer)
        )
        self.lists = frozenset(_EXPANDING.findall(compiled.string)) - self.inline
        self.sql = _EXPANDING.sub(
            lambda found: (
                found.group(0)
                if found.group(1) in self.inline
                else f"(SELECT value FROM json_each(:{found.group(1)}))"
            ),
            compiled.string,
        )
        self.defaults = dict(compiled.params)
        # (A sequence of processors is a tuple type's, which these statements do not bind.)
        self.binds: dict[str, Callable[[Any], Any]] = {
            name: processor
            for name, processor in compiled._bind_processors.items()
            if callable(processor)
        }
        columns = compiled._result_columns
        self.row: Any = collections.namedtuple(  # type: ignore[misc]
            "Row", [entry.keyname for entry in columns], rename=True
        )
        self.results = [
            (i, processor)
            for i, entry in enumerate(columns)
            if (processor := entry.type._cached_result_processor(dialect, None)) is not None
        ]

    def text(self, given: Mapping[str, Any]) -> str:
        """The statement with its inline lists written in (integers only)."""
        sql = self.sql
        for name in self.inline:
            # An empty list as (NULL): SQLite plans ``x IN ()`` OR-ed with another test as a
            # scan of the table, ``x IN (NULL)`` (true for no row either) as an index search.
            values = ",".join(str(int(value)) for value in given[name]) or "NULL"
            sql = sql.replace(f"(__[POSTCOMPILE_{name}])", f"({values})")
        return sql

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        found = {**self.defaults, **given}
        for name in self.inline:
            del found[name]
        for name, value in found.items():
            bind = self.binds.get(name)
            if name in self.lists:
                items = list(value) if bind is None else [bind(item) for item in value]
                found[name] = json.dumps(items)
            elif bind is not None:
                found[name] = bind(value)
        return found

    def rows(self, fetched: list[Any]) -> list[Any]:
        make = self.row._make
        if not self.results:
            return [make(row) for row in fetched]
        out = []
        for row in fetched:
            values = list(row)
            for i, processor in self.results:
                values[i] = processor(values[i])
            out.append(make(values))
        return out


@functools.lru_cache(maxsize=128)
def _sqlite_statement(
    statement: Statement, default_schema: str | None, schemas: Schemas
) -> _SqliteStatement:
    return _SqliteStatement(statement, default_schema, schemas)


def _fetch_sqlite(
    conn: Connection,
    statement: Statement,
    parameters: Mapping[str, Any],
    schemas: Schemas,
) -> list[Any]:
    prepared = _sqlite_statement(statement, conn.dialect.default_schema_name, schemas)
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        raise TypeError(f"fetch_all needs a sqlite3 connection, not {type(driver).__name__}")
    given = prepared.parameters(parameters)
    sql = prepared.text(parameters)
    try:
        fetched = driver.execute(sql, given).fetchall()
    except sqlite3.Error as exc:
        conn._handle_dbapi_exception(exc, sql, given, None, None)
    return prepared.rows(fetched)
