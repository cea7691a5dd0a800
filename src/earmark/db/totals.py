"""The live totals of the website's home page: tracks, fingerprints, MBIDs, submissions.

Cheap by construction: on SQLite (a laptop's data directory) exact counts; on PostgreSQL,
where ``count(*)`` over tens of millions of rows scans them, the planner's row estimate
(``pg_class.reltuples``, kept by autovacuum) once a table is past :data:`EXACT_BELOW` rows.
Distinct MBIDs have no estimate: past the threshold they come from the daily roll-up
(``mbid.all``, :mod:`earmark.db.stats`). Each figure is counted on its own role's connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import stats
from earmark.db.engine import Connections, is_sqlite
from earmark.db.tables import fingerprint, submission, track, track_mbid

#: Tables estimated to hold fewer rows than this are counted exactly.
EXACT_BELOW = 200_000


@dataclass(frozen=True)
class Totals:
    tracks: int
    fingerprints: int
    mbids: int
    submissions: int
    #: True when some figure is an estimate (shown as "about").
    estimated: bool = False


def _estimate(conn: Connection, table: sa.Table) -> int | None:
    """PostgreSQL's row estimate of ``table`` (None: never analysed, or SQLite)."""
    if is_sqlite(conn):
        return None
    found = conn.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": table.name},
    ).scalar()
    return None if found is None or found < 0 else int(found)


def _count(conn: Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar() or 0)


def _rows(conn: Connection, table: sa.Table) -> tuple[int, bool]:
    estimate = _estimate(conn, table)
    if estimate is not None and estimate >= EXACT_BELOW:
        return estimate, True
    return _count(conn, sa.select(sa.func.count()).select_from(table)), False


def live_totals(conns: Connections) -> Totals:
    tracks, e1 = _rows(conns.fingerprint, track)
    fingerprints, e2 = _rows(conns.fingerprint, fingerprint)
    submissions, e3 = _rows(conns.ingest, submission)
    links = _estimate(conns.fingerprint, track_mbid)
    if links is not None and links >= EXACT_BELOW:
        mbids, e4 = stats.latest_figures(conns.app)[1].get("mbid.all", 0), True
    else:
        enabled = track_mbid.c.disabled.is_(sa.false())
        query = sa.select(sa.func.count(track_mbid.c.mbid.distinct())).where(enabled)
        mbids, e4 = _count(conns.fingerprint, query), False
    return Totals(tracks, fingerprints, mbids, submissions, estimated=e1 or e2 or e3 or e4)
