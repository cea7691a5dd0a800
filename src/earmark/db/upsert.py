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


#: Rows per multi-row statement (PostgreSQL takes at most 65,535 parameters per statement).
CHUNK = 500

Key = tuple[Any, ...]


def ids_by_key(
    conn: Connection, table: sa.Table, names: Sequence[str], keys: Sequence[Key]
) -> dict[Key, int]:
    """The ``id`` of each existing row whose ``names`` columns equal a key, one SELECT a chunk."""
    columns = [table.c[name] for name in names]
    found: dict[Key, int] = {}
    for begin in range(0, len(keys), CHUNK):
        chunk = keys[begin : begin + CHUNK]
        if len(columns) == 1:
            where = columns[0].in_([key[0] for key in chunk])
        else:
            where = sa.tuple_(*columns).in_(chunk)
        for row in conn.execute(sa.select(table.c.id, *columns).where(where)):
            found[tuple(row[1:])] = int(row[0])
    return found


def find_or_insert_many(
    conn: Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Mapping[Key, Mapping[str, Any]],
) -> dict[Key, int]:
    """:func:`find_or_insert` for many keys at once: a SELECT, a batched INSERT, a SELECT.

    ``rows`` maps each key (the values of the unique ``names`` columns) to the other values of
    its row, used only when it is inserted. Missing rows are inserted in key order, so two
    transactions inserting overlapping sets wait for each other instead of deadlocking.
    """
    keys = sorted(rows)
    found = ids_by_key(conn, table, names, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        # executemany: one compiled statement whatever the count (the driver batches the rows)
        conn.execute(
            _insert(conn, table).on_conflict_do_nothing(index_elements=list(names)),
            [{**dict(zip(names, key, strict=True)), **rows[key]} for key in missing],
        )
    if missing:
        found.update(ids_by_key(conn, table, names, missing))
    return found


def increment_or_insert_many(
    conn: Connection,
    table: sa.Table,
    names: Sequence[str],
    counts: Mapping[Key, int],
    *,
    counter: str = "submission_count",
    touch: Sequence[str] = ("updated",),
) -> dict[Key, int]:
    """:func:`increment_or_insert` for many keys at once, adding ``counts[key]`` to each row.

    Existing rows get one batched UPDATE by id (no sequence value drawn), the others one
    batched ``INSERT … ON CONFLICT DO UPDATE`` (a concurrent twin is counted into),
    both in a fixed order (ids, keys) so two importers never lock rows crosswise.
    """
    keys = sorted(counts)
    found = ids_by_key(conn, table, names, keys)
    existing = sorted((row_id, counts[key]) for key, row_id in found.items())
    if existing:
        update: dict[str, Any] = {counter: table.c[counter] + sa.bindparam("n_added")}
        update.update({name: sa.func.now() for name in touch})
        conn.execute(
            sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(update),
            [{"row_id": row_id, "n_added": n} for row_id, n in existing],
        )
    missing = [key for key in keys if key not in found]
    if missing:
        stmt = _insert(conn, table)
        on_conflict: dict[str, Any] = {counter: table.c[counter] + stmt.excluded[counter]}
        on_conflict.update({name: sa.func.now() for name in touch})
        conn.execute(
            stmt.on_conflict_do_update(index_elements=list(names), set_=on_conflict),
            [{**dict(zip(names, key, strict=True)), counter: counts[key]} for key in missing],
        )
    if missing:
        found.update(ids_by_key(conn, table, names, missing))
    return found
