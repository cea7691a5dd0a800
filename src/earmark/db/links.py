"""Named data functions of a track's links (fingerprint database): MBIDs, PUIDs, user
metadata and foreign ids.

Each link counts the submissions that vouched for it (``submission_count``). Adding a link that
exists increments its count; a disabled MBID link stays disabled (reference §9.3.8). The
provenance rows (``track_*_source``) are in the ingest database, see
:func:`earmark.db.submissions.add_link_sources`.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from earmark.db import upsert
from earmark.db.meta import Meta, meta_row
from earmark.db.tables import meta, track_foreignid, track_mbid, track_meta, track_puid

LinkKind = Literal["mbid", "puid", "meta", "foreignid"]

_TABLES: dict[LinkKind, tuple[sa.Table, str]] = {
    "mbid": (track_mbid, "mbid"),
    "puid": (track_puid, "puid"),
    "meta": (track_meta, "meta_id"),
    "foreignid": (track_foreignid, "foreignid_id"),
}


@dataclass(frozen=True, slots=True)
class MbidLink:
    id: int
    track_id: int
    mbid: uuid.UUID
    submission_count: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class Link:
    """One link of any kind; ``value`` is the MBID, the PUID, the meta id or the foreign id id."""

    id: int
    track_id: int
    value: Any
    submission_count: int


@dataclass(frozen=True, slots=True)
class MetaLink:
    """A ``track_meta`` link: the metadata and how many submissions carried it."""

    meta: Meta
    submission_count: int


def add(conn: Connection, kind: LinkKind, track_id: int, value: Any) -> int:
    """Count one more submission for the link, inserting it with 1; returns the link id."""
    table, column = _TABLES[kind]
    return upsert.increment_or_insert(conn, table, {"track_id": track_id, column: value})


def add_many(
    conn: Connection, kind: LinkKind, counts: Mapping[tuple[int, Any], int]
) -> dict[tuple[int, Any], int]:
    """:func:`add` for a group: (track id, value) → how many submissions; returns link ids."""
    table, column = _TABLES[kind]
    return upsert.increment_or_insert_many(conn, table, ("track_id", column), counts)


def add_mbid(conn: Connection, track_id: int, mbid: uuid.UUID) -> int:
    return add(conn, "mbid", track_id, mbid)


def add_puid(conn: Connection, track_id: int, puid: uuid.UUID) -> int:
    return add(conn, "puid", track_id, puid)


def add_meta(conn: Connection, track_id: int, meta_id: int) -> int:
    return add(conn, "meta", track_id, meta_id)


def add_foreignid(conn: Connection, track_id: int, foreignid_id: int) -> int:
    return add(conn, "foreignid", track_id, foreignid_id)


def find(conn: Connection, kind: LinkKind, track_id: int, value: Any) -> Link | None:
    """The link of ``kind`` between a track and ``value``, or None."""
    table, column = _TABLES[kind]
    row = conn.execute(
        sa.select(table.c.id, table.c.submission_count).where(
            table.c.track_id == track_id, table.c[column] == value
        )
    ).first()
    return None if row is None else Link(row.id, track_id, value, row.submission_count)


def mbid_link(conn: Connection, track_id: int, mbid: uuid.UUID) -> MbidLink | None:
    row = conn.execute(
        sa.select(track_mbid).where(track_mbid.c.track_id == track_id, track_mbid.c.mbid == mbid)
    ).first()
    return None if row is None else _mbid_link(row)


def _mbid_link(row: sa.Row[Any]) -> MbidLink:
    return MbidLink(row.id, row.track_id, row.mbid, row.submission_count, row.disabled)


def enabled_mbids_column(track_id: sa.ColumnElement[int], dialect: str) -> sa.ColumnElement[Any]:
    """A column of the enabled MBID links of the track ``track_id`` names, for a statement that
    reads tracks anyway (a lookup's candidates): one JSON array of ``[id, mbid,
    submission_count]``, read by :func:`parse_mbid_links`. It spares the lookup the round trip
    of :func:`mbids_for_tracks`."""
    c = track_mbid.c
    if dialect == "postgresql":
        aggregate = sa.func.json_agg(sa.func.json_build_array(c.id, c.mbid, c.submission_count))
    else:
        aggregate = sa.func.json_group_array(sa.func.json_array(c.id, c.mbid, c.submission_count))
    return (
        sa.select(aggregate)
        .where(c.track_id == track_id, sa.not_(c.disabled))
        .scalar_subquery()
        .label("mbid_links")
    )


def parse_mbid_links(value: Any, track_id: int) -> list[MbidLink]:
    """The links of :func:`enabled_mbids_column`, ordered by MBID as :func:`mbids_for_tracks`
    orders them."""
    if value is None:
        return []
    entries = json.loads(value) if isinstance(value, str | bytes) else value
    found = [
        MbidLink(int(link_id), track_id, uuid.UUID(str(mbid)), int(count), False)
        for link_id, mbid, count in entries
    ]
    found.sort(key=lambda link: link.mbid.hex)
    return found


def set_mbid_disabled(conn: Connection, link_id: int, disabled: bool) -> bool:
    """Disable or re-enable an MBID link (curation); False when there is no such link.

    The caller records the change (``track_mbid_change``) in the ingest database.
    """
    result = conn.execute(
        sa.update(track_mbid)
        .where(track_mbid.c.id == link_id)
        .values(disabled=disabled, updated=sa.func.now())
    )
    return result.rowcount > 0


def mbids_for_tracks(
    conn: Connection, track_ids: Iterable[int], *, include_disabled: bool = False
) -> dict[int, list[MbidLink]]:
    """The MBID links of each track (every asked track is a key), ordered by MBID text.

    UUIDs sort like their lower-case text on both engines (PostgreSQL compares the bytes,
    SQLite stores 32 hex digits), so ordering by the column is ordering by the text.
    """
    ids = list(dict.fromkeys(track_ids))
    result: dict[int, list[MbidLink]] = {i: [] for i in ids}
    if not ids:
        return result
    for row in conn.execute(_mbids_query(conn.dialect.name, include_disabled), {"track_ids": ids}):
        result[row.track_id].append(_mbid_link(row))
    return result


@functools.cache
def _mbids_query(dialect: str, include_disabled: bool) -> sa.Select[Any]:
    # Built once (every lookup with meta runs it): a reused statement hits SQLAlchemy's
    # compiled cache without building the statement and its cache key again.
    c = track_mbid.c
    # Only what an MbidLink holds: no timestamps to parse.
    query = (
        sa.select(c.id, c.track_id, c.mbid, c.submission_count, c.disabled)
        .where(_among(track_mbid.c.track_id, "track_ids", dialect))
        .order_by(track_mbid.c.track_id, track_mbid.c.mbid)
    )
    if not include_disabled:
        query = query.where(sa.not_(track_mbid.c.disabled))
    return query


def _among(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    # PostgreSQL: one array parameter, so the statement's text does not depend on the number of
    # values and psycopg prepares it after a few executions (no parsing and planning).
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def meta_for_tracks(
    conn: Connection, track_ids: Iterable[int], *, limit_per_track: int = 10
) -> dict[int, list[MetaLink]]:
    """User-submitted metadata of each track, most submitted first (``usermeta``, §3.3)."""
    ids = list(dict.fromkeys(track_ids))
    result: dict[int, list[MetaLink]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = conn.execute(
        sa.select(track_meta.c.track_id, track_meta.c.submission_count, meta)
        .join(meta, meta.c.id == track_meta.c.meta_id)
        .where(track_meta.c.track_id.in_(ids))
        .order_by(track_meta.c.track_id, track_meta.c.submission_count.desc(), meta.c.id)
    ).all()
    for r in rows:
        found = result[r.track_id]
        if len(found) < limit_per_track:
            found.append(MetaLink(meta_row(r), r.submission_count))
    return result
