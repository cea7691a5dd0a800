"""Named data functions of the ``format`` table (app database): audio file format names."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from earmark.db import upsert
from earmark.db.tables import format_


def find_or_insert(conn: Connection, name: str) -> int:
    """The id of the format called ``name`` (as submitted, case kept), inserted if new."""
    return upsert.find_or_insert(conn, format_, {"name": name})
