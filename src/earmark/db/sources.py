"""Named data functions of the ``source`` table (app database).

A source is one (application, account, application version) triple; provenance rows in the
ingest database point at it. ``version`` is never NULL: an empty string stands for "none", so
the unique key holds for clients that send no version.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import upsert
from earmark.db.tables import source


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    application_id: int
    account_id: int
    version: str


def find_or_insert(
    conn: Connection, *, application_id: int, account_id: int, version: str | None
) -> int:
    """The id of the source for this application, account and version, inserted if new."""
    key = {"application_id": application_id, "account_id": account_id, "version": version or ""}
    return upsert.find_or_insert(conn, source, key)


def get(conn: Connection, source_id: int) -> Source | None:
    row = conn.execute(sa.select(source).where(source.c.id == source_id)).first()
    if row is None:
        return None
    return Source(row.id, row.application_id, row.account_id, row.version)
