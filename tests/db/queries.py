"""Queries the tests read the databases with: the service itself never needs these answers.

They were named data functions under ``earmark.db`` that only tests called (issue 24); here they
watch what the importer, the cron jobs and the migrations wrote.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db.links import LinkKind
from earmark.db.mbids import parse_mbid, utc
from earmark.db.tables import (
    fingerprint_source,
    format_,
    mbid_unknown,
    metadata,
    track_foreignid_source,
    track_mbid_source,
    track_meta_source,
    track_puid_source,
)

_LINK_SOURCES: dict[LinkKind, tuple[sa.Table, str]] = {
    "mbid": (track_mbid_source, "track_mbid_id"),
    "puid": (track_puid_source, "track_puid_id"),
    "meta": (track_meta_source, "track_meta_id"),
    "foreignid": (track_foreignid_source, "track_foreignid_id"),
}


def format_name(conn: Connection, format_id: int) -> str | None:
    name = conn.execute(sa.select(format_.c.name).where(format_.c.id == format_id))
    found = name.scalar_one_or_none()
    return None if found is None else str(found)


def link_source_count(conn: Connection, kind: LinkKind, link_id: int) -> int:
    """How many submissions vouched for one track link."""
    table, key = _LINK_SOURCES[kind]
    count = sa.select(sa.func.count()).select_from(table).where(table.c[key] == link_id)
    return int(conn.execute(count).scalar_one())


def fingerprint_source_ids(conn: Connection, submission_id: int) -> list[int]:
    """The fingerprints a submission was recorded against (one after an import)."""
    rows = conn.execute(
        sa.select(fingerprint_source.c.fingerprint_id)
        .where(fingerprint_source.c.submission_id == submission_id)
        .order_by(fingerprint_source.c.id)
    ).scalars()
    return [int(i) for i in rows]


def unknown_since(conn: Connection, mbids: Iterable[str | uuid.UUID]) -> dict[str, dt.datetime]:
    """When each of ``mbids`` was first found unknown (those with a running clock)."""
    keys = sorted({parse_mbid(m) for m in mbids})
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(mbid_unknown.c.mbid, mbid_unknown.c.first_unknown).where(
            mbid_unknown.c.mbid.in_(keys)
        )
    )
    return {str(m): utc(t) for m, t in rows}


def tables_of(role: str) -> list[sa.Table]:
    """The tables of one logical database, in creation order."""
    return [t for t in metadata.sorted_tables if t.info.get("role") == role]
