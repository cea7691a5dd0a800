"""``INSERT … ON CONFLICT`` for both engines, the building block of find-or-insert functions.

Plain select-then-insert races between two PostgreSQL transactions; ``ON CONFLICT`` makes the
second one wait for the first and then see its row (reference §9.3 takes advisory locks only on
the fingerprint and the MBID, so rows keyed by anything else need this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from earmark.db.engine import is_sqlite


def find_or_insert(
    conn: Connection,
    table: sa.Table,
    key: Mapping[str, Any],
    *,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """The ``id`` of the row of ``table`` whose unique ``key`` columns equal ``key``.

    Inserted (with ``extra`` values) when missing; an existing row is never changed.
    """
    where = [table.c[name] == value for name, value in key.items()]
    found = conn.execute(sa.select(table.c.id).where(*where)).scalar_one_or_none()
    if found is not None:
        return int(found)
    stmt = _insert(conn, table).values({**key, **(extra or {})})
    conn.execute(stmt.on_conflict_do_nothing(index_elements=list(key)))
    return int(conn.execute(sa.select(table.c.id).where(*where)).scalar_one())


def increment_or_insert(
    conn: Connection,
    table: sa.Table,
    key: Mapping[str, Any],
    *,
    counter: str = "submission_count",
    touch: Sequence[str] = ("updated",),
) -> int:
    """Add one to ``counter`` of the row with the unique ``key``, or insert it with 1; its id.

    The common case, an existing row, is a plain UPDATE: an upsert would draw (and waste) a
    sequence value on every call, and link ids are 32-bit.
    """
    update: dict[str, Any] = {counter: table.c[counter] + 1}
    update.update({name: sa.func.now() for name in touch})
    where = [table.c[name] == value for name, value in key.items()]
    found = conn.execute(
        sa.update(table).where(*where).values(update).returning(table.c.id)
    ).scalar_one_or_none()
    if found is not None:
        return int(found)
    stmt = _insert(conn, table).values({**key, counter: 1})
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=update)
    return int(conn.execute(stmt.returning(table.c.id)).scalar_one())


def _insert(conn: Connection, table: sa.Table) -> Any:
    if is_sqlite(conn):
        return sqlite.insert(table)
    return postgresql.insert(table)
