"""The health probe of the databases: the one question ``/_health`` and ``/_health_ready`` ask."""

from __future__ import annotations

import sqlalchemy as sa

from earmark.db.engine import Databases, is_sqlite, read_connection

#: The public reason when a database answers but cannot take writes (a hot standby).
READ_ONLY = "database is read-only"


def probe(dbs: Databases, *, write: bool) -> str | None:
    """Ask every database a trivial question; None when all answer, else the reason (short,
    public). ``write``: PostgreSQL must also accept writes (not be a hot standby). A database
    that cannot be reached raises (the caller reports it)."""
    for engine, _roles in dbs.physical():
        with read_connection(engine) as conn:
            conn.execute(sa.select(sa.literal(1))).scalar_one()
            standby = sa.select(sa.func.pg_is_in_recovery())
            if write and not is_sqlite(conn) and conn.execute(standby).scalar_one():
                return READ_ONLY
    return None
