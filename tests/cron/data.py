"""Plain inserts of the rows the cron works on (accounts, tracks, links, submissions)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import tables as t


def _insert(conn: Connection, table: sa.Table, **values: Any) -> int:
    return int(conn.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one())


def add_account(conn: Connection, name: str = "someone", **values: Any) -> int:
    return _insert(conn, t.account, name=name, apikey=uuid.uuid4().hex, **values)


def add_application(conn: Connection, account_id: int, name: str = "app") -> int:
    return _insert(
        conn, t.application, name=name, version="1", apikey=uuid.uuid4().hex, account_id=account_id
    )


def add_track(conn: Connection) -> int:
    return _insert(conn, t.track, gid=uuid.uuid4())


def add_fingerprint(conn: Connection, track_id: int) -> int:
    return _insert(
        conn,
        t.fingerprint,
        fingerprint=[1, 2, 3],
        length=100,
        track_id=track_id,
        submission_count=1,
    )


def add_link(
    conn: Connection, track_id: int, mbid: str, count: int = 1, disabled: bool = False
) -> int:
    return _insert(
        conn,
        t.track_mbid,
        track_id=track_id,
        mbid=uuid.UUID(mbid),
        submission_count=count,
        disabled=disabled,
    )


def add_link_source(conn: Connection, link_id: int) -> int:
    return _insert(conn, t.track_mbid_source, track_mbid_id=link_id, source_id=1)


def add_link_change(conn: Connection, link_id: int, account_id: int, note: str) -> int:
    return _insert(
        conn,
        t.track_mbid_change,
        track_mbid_id=link_id,
        account_id=account_id,
        disabled=False,
        note=note,
    )


def add_submission(conn: Connection, status: str = "pending") -> int:
    return _insert(
        conn,
        t.submission,
        account_id=1,
        application_id=1,
        fingerprint=[1, 2, 3],
        length=100,
        status=status,
    )


def link(conn: Connection, link_id: int) -> sa.Row[Any]:
    return conn.execute(sa.select(t.track_mbid).where(t.track_mbid.c.id == link_id)).one()


def links_of(conn: Connection, mbid: str) -> list[sa.Row[Any]]:
    query = sa.select(t.track_mbid).where(t.track_mbid.c.mbid == uuid.UUID(mbid))
    return list(conn.execute(query.order_by(t.track_mbid.c.id)).all())


def mbid(n: int) -> str:
    """A fixed, ordered MBID for test number ``n``."""
    return str(uuid.UUID(int=n))
