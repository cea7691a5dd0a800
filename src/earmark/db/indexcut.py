"""The cut a backup takes between the fingerprint database and the fingerprint index.

A backup holds :func:`hold_writers` while it copies the index: no fingerprint is written and no
``index_outbox`` row changes meanwhile, so every fingerprint committed before the cut is either
in the index copy or still in the outbox. :func:`catch_up_position` is then the smallest id the
index copy may lack; after a restore :func:`queue_from` puts every fingerprint from there on back
into the outbox (index inserts are idempotent, so one sent twice costs nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from earmark.db.tables import fingerprint, index_outbox


def hold_writers(conn: Connection) -> None:
    """Block new fingerprints and outbox changes until ``conn``'s transaction ends (reads go on).

    PostgreSQL: ``EXCLUSIVE`` on both tables waits for imports in flight to commit (an INSERT
    holds ``ROW EXCLUSIVE`` from before it takes its id), so after it no smaller id can appear.
    SQLite: the write transaction (``BEGIN IMMEDIATE``) already holds the database's only write
    lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE fingerprint, index_outbox IN EXCLUSIVE MODE"))


def catch_up_position(conn: Connection) -> int:
    """The smallest fingerprint id the index may lack: the oldest outbox row, else the next id."""
    oldest = conn.execute(sa.select(sa.func.min(index_outbox.c.fingerprint_id))).scalar_one()
    newest = conn.execute(sa.select(sa.func.max(fingerprint.c.id))).scalar_one()
    following = (newest or 0) + 1
    return following if oldest is None else min(int(oldest), following)


def queue_from(conn: Connection, position: int) -> int:
    """Put every fingerprint with an id from ``position`` on into the outbox; returns how many."""
    waiting = sa.select(index_outbox.c.fingerprint_id)
    added = conn.execute(
        sa.insert(index_outbox)
        .from_select(
            ["fingerprint_id"],
            sa.select(fingerprint.c.id).where(
                fingerprint.c.id >= position, fingerprint.c.id.not_in(waiting)
            ),
        )
        .returning(index_outbox.c.fingerprint_id)
    )
    return len(added.all())
