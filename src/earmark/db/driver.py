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

Rows are plain tuples in the order of the statement's columns (named tuples with
``named=True``: by position and by column label); no result processing is applied (a column of a
custom SQLAlchemy type arrives as the driver returns it), and the parameters reach the driver as
given (psycopg adapts Python's own types). A schema translate map (``schema_map``) is rendered
into the statement's text when it is compiled, as SQLAlchemy would at execution.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy.engine import Connection, Dialect

SchemaMap = Mapping[str | None, str | None]


def usable(conn: Connection) -> bool:
    """Whether :func:`fetch_all` can run on ``conn`` (PostgreSQL through psycopg 3)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def fetch_all(
    conn: Connection,
    statement: sa.Select[Any],
    parameters: Mapping[str, Any],
    *,
    schema_map: SchemaMap | None = None,
    named: bool = False,
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` run with ``parameters`` on ``conn`` (see :func:`usable`)."""
    schemas = tuple(sorted(schema_map.items(), key=repr)) if schema_map else ()
    sql, defaults = _compiled(statement, conn.dialect, schemas)
    if defaults:  # values bound in the statement itself (``sa.literal``, ``func.f(1)``)
        parameters = {**defaults, **parameters}
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"fetch_all needs a psycopg connection, not {type(driver).__name__}")
    try:
        if named:
            with driver.cursor(binary=True, row_factory=namedtuple_row) as named_cursor:
                named_cursor.execute(sql, parameters)
                rows: list[Any] = named_cursor.fetchall()
                return rows
        with driver.cursor(binary=True) as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
    except psycopg.Error as exc:
        # SQLAlchemy's own error handling, as if it had run the statement: its handle_error
        # event, its error classes, and on a disconnect the pool invalidated (every pooled
        # connection opened before the break is replaced, not only this one) with
        # ``connection_invalidated`` set. A private method, stable across SQLAlchemy 2.0 and
        # 2.1 (the pinned range); tests/api/test_lookup_reconnect.py plays a real restart.
        conn._handle_dbapi_exception(exc, sql, dict(parameters), None, None)


@functools.lru_cache(maxsize=128)
def _compiled(
    statement: sa.Select[Any], dialect: Dialect, schemas: tuple[tuple[str | None, str | None], ...]
) -> tuple[str, dict[str, Any]]:
    # Statements passed here are built once (module constants, functools.cache): caching by
    # identity compiles each once per dialect and schema map.
    if schemas:
        compiled = statement.compile(
            dialect=dialect, schema_translate_map=dict(schemas), render_schema_translate=True
        )
    else:
        compiled = statement.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)
