"""Named data functions of open data imports (fingerprint database; docs/open-data.md).

``opendata_idmap`` maps an upstream row (provenance, stream, id) to the local row it became;
``opendata_progress`` holds the last day applied per stream; ``opendata_parked`` holds rows
waiting for a row they need. :func:`merge_tracks` merges one local track into another the way
upstream's merges do (the merged track keeps ``new_id``; its fingerprints and links move).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from earmark.db.tables import (
    fingerprint,
    index_outbox,
    opendata_idmap,
    opendata_parked,
    opendata_progress,
    track,
    track_foreignid,
    track_mbid,
    track_mbid_outbox,
    track_meta,
    track_puid,
)
from earmark.db.types import Int32Array, as_int32
from earmark.db.upsert import _insert

#: Statements that take a list of values take at most this many.
CHUNK = 500
#: On PostgreSQL, lookups by id bind this many ids as one array parameter.
_ARRAY_CHUNK = 50_000
#: PostgreSQL's type oid of int4 (the element type in a binary int4[]).
_INT4_OID = 23

#: The link tables a track merge moves, with the column that keys a link besides the track,
#: and the id map stream of each (track_foreignid has none upstream).
LINK_TABLES: tuple[tuple[sa.Table, str, str | None], ...] = (
    (track_mbid, "mbid", "track_mbid"),
    (track_puid, "puid", "track_puid"),
    (track_meta, "meta_id", "track_meta"),
    (track_foreignid, "foreignid_id", None),
)


def chunked(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _int_array(values: Sequence[int]) -> sa.BindParameter[Any]:
    return sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.Integer))


@dataclass(frozen=True, slots=True)
class Mapped:
    """What an upstream row became: the local row, and the digest and stamp it had."""

    local_id: int
    digest: str
    stamp: str = ""


def mapped(conn: Connection, provenance: str, stream: str, ids: Iterable[int]) -> dict[int, Mapped]:
    """upstream id → what it became, for the rows already applied."""
    found: dict[int, Mapped] = {}
    # PostgreSQL takes a whole day's ids as one array parameter (one statement, not one per
    # CHUNK); SQLite binds each id, so its statements stay under its variable limit.
    postgresql = conn.dialect.name == "postgresql"
    for part in chunked(sorted(set(ids)), _ARRAY_CHUNK if postgresql else CHUNK):
        wanted = (
            opendata_idmap.c.upstream_id == sa.any_(_int_array(part))
            if postgresql
            else opendata_idmap.c.upstream_id.in_(part)
        )
        rows = conn.execute(
            sa.select(
                opendata_idmap.c.upstream_id,
                opendata_idmap.c.local_id,
                opendata_idmap.c.digest,
                opendata_idmap.c.stamp,
            ).where(
                opendata_idmap.c.provenance == provenance,
                opendata_idmap.c.stream == stream,
                wanted,
            )
        )
        found.update((r.upstream_id, Mapped(r.local_id, r.digest, r.stamp)) for r in rows)
    return found


_SET_MAPPED = sa.text(
    "INSERT INTO opendata_idmap (provenance, stream, upstream_id, local_id, digest, stamp) "
    "SELECT :provenance, :stream, u, l, d, s FROM unnest("
    "CAST(:ids AS int4[]), CAST(:locals AS int4[]), CAST(:digests AS text[]), "
    "CAST(:stamps AS text[])) AS t(u, l, d, s) "
    "ON CONFLICT (provenance, stream, upstream_id) DO UPDATE SET "
    "local_id = excluded.local_id, digest = excluded.digest, stamp = excluded.stamp"
)


def set_mapped(
    conn: Connection, provenance: str, stream: str, entries: Mapping[int, Mapped]
) -> None:
    """Record upstream id → what it became, replacing earlier entries."""
    if not entries:
        return
    if conn.dialect.name == "postgresql":
        # One statement per array chunk: the columns as arrays, unnested by the server.
        items = list(entries.items())
        for part in chunked(items, _ARRAY_CHUNK):
            conn.execute(
                _SET_MAPPED,
                {
                    "provenance": provenance,
                    "stream": stream,
                    "ids": [u for u, _ in part],
                    "locals": [e.local_id for _, e in part],
                    "digests": [e.digest for _, e in part],
                    "stamps": [e.stamp for _, e in part],
                },
            )
        return
    rows = [
        {
            "provenance": provenance,
            "stream": stream,
            "upstream_id": upstream_id,
            "local_id": entry.local_id,
            "digest": entry.digest,
            "stamp": entry.stamp,
        }
        for upstream_id, entry in entries.items()
    ]
    stmt = _insert(conn, opendata_idmap)
    stmt = stmt.on_conflict_do_update(
        index_elements=["provenance", "stream", "upstream_id"],
        set_={name: stmt.excluded[name] for name in ("local_id", "digest", "stamp")},
    )
    for part in chunked(rows):
        conn.execute(stmt, list(part))


def imported_ids(conn: Connection, provenance: str, stream: str) -> set[int]:
    """The local ids of ``stream``'s rows that came from ``provenance``."""
    rows = conn.execute(
        sa.select(opendata_idmap.c.local_id).where(
            opendata_idmap.c.provenance == provenance, opendata_idmap.c.stream == stream
        )
    ).scalars()
    return set(rows)


def imported_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(provenance, stream) → how many upstream rows are mapped (``earmark data status``)."""
    rows = conn.execute(
        sa.select(opendata_idmap.c.provenance, opendata_idmap.c.stream, sa.func.count()).group_by(
            opendata_idmap.c.provenance, opendata_idmap.c.stream
        )
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def progress(conn: Connection, provenance: str) -> dict[str, dt.date]:
    rows = conn.execute(
        sa.select(opendata_progress.c.stream, opendata_progress.c.last_day).where(
            opendata_progress.c.provenance == provenance
        )
    )
    return {r.stream: r.last_day for r in rows}


def all_progress(conn: Connection) -> list[tuple[str, str, dt.date]]:
    """(provenance, stream, last day) of every import (the metrics)."""
    rows = conn.execute(
        sa.select(
            opendata_progress.c.provenance,
            opendata_progress.c.stream,
            opendata_progress.c.last_day,
        ).order_by(opendata_progress.c.provenance, opendata_progress.c.stream)
    )
    return [(r.provenance, r.stream, r.last_day) for r in rows]


def set_progress(conn: Connection, provenance: str, streams: Iterable[str], day: dt.date) -> None:
    stmt = _insert(conn, opendata_progress)
    stmt = stmt.on_conflict_do_update(
        index_elements=["provenance", "stream"],
        set_={"last_day": stmt.excluded.last_day, "updated": sa.func.now()},
    )
    rows = [{"provenance": provenance, "stream": s, "last_day": day} for s in streams]
    if rows:
        conn.execute(stmt, rows)


@dataclass(frozen=True, slots=True)
class Parked:
    stream: str
    upstream_id: int
    waits_for: str
    day: dt.date
    body: str


def park(conn: Connection, provenance: str, rows: Sequence[Parked]) -> None:
    """Keep rows until what they wait for arrives (a later row of the same id replaces)."""
    if not rows:
        return
    values = [
        {
            "provenance": provenance,
            "stream": p.stream,
            "upstream_id": p.upstream_id,
            "waits_for": p.waits_for,
            "day": p.day,
            "body": p.body,
        }
        for p in rows
    ]
    stmt = _insert(conn, opendata_parked)
    stmt = stmt.on_conflict_do_update(
        index_elements=["provenance", "stream", "upstream_id"],
        set_={name: stmt.excluded[name] for name in ("waits_for", "day", "body")},
    )
    for part in chunked(values):
        conn.execute(stmt, list(part))


def _take(conn: Connection, provenance: str, where: sa.ColumnElement[bool]) -> list[Parked]:
    condition = sa.and_(opendata_parked.c.provenance == provenance, where)
    rows = conn.execute(
        sa.select(
            opendata_parked.c.stream,
            opendata_parked.c.upstream_id,
            opendata_parked.c.waits_for,
            opendata_parked.c.day,
            opendata_parked.c.body,
        )
        .where(condition)
        .order_by(opendata_parked.c.day, opendata_parked.c.upstream_id)
    ).all()
    if rows:
        conn.execute(sa.delete(opendata_parked).where(condition))
    return [Parked(r.stream, r.upstream_id, r.waits_for, r.day, r.body) for r in rows]


def take_waiting(conn: Connection, provenance: str, keys: Iterable[str]) -> list[Parked]:
    """Remove and return the parked rows waiting for any of ``keys`` ("track:12")."""
    found: list[Parked] = []
    for part in chunked(sorted(set(keys))):
        found += _take(conn, provenance, opendata_parked.c.waits_for.in_(part))
    return found


def take_rows(
    conn: Connection, provenance: str, streams: Sequence[str], ids: Iterable[int]
) -> list[Parked]:
    """Remove and return the parked rows of ``streams`` with the given upstream ids."""
    found: list[Parked] = []
    for part in chunked(sorted(set(ids))):
        found += _take(
            conn,
            provenance,
            sa.and_(
                opendata_parked.c.stream.in_(list(streams)),
                opendata_parked.c.upstream_id.in_(part),
            ),
        )
    return found


def parked(conn: Connection, provenance: str) -> list[Parked]:
    """Every row still waiting, oldest day first."""
    rows = conn.execute(
        sa.select(opendata_parked)
        .where(opendata_parked.c.provenance == provenance)
        .order_by(opendata_parked.c.day, opendata_parked.c.stream, opendata_parked.c.upstream_id)
    ).all()
    return [Parked(r.stream, r.upstream_id, r.waits_for, r.day, r.body) for r in rows]


def survivors(conn: Connection, local_ids: Iterable[int]) -> dict[int, int]:
    """local track id → the id of the track it was merged into, or itself."""
    found: dict[int, int] = {}
    for part in chunked(sorted(set(local_ids))):
        rows = conn.execute(sa.select(track.c.id, track.c.new_id).where(track.c.id.in_(part)))
        found.update((r.id, r.new_id or r.id) for r in rows)
    return found


def merge_tracks(
    conn: Connection, old: int, survivor: int, when: dt.datetime | None = None
) -> None:
    """Merge local track ``old`` into ``survivor``: fingerprints and links move; a link both
    tracks have keeps the survivor's row with both counts (upstream deleted the duplicate)."""
    if old == survivor:
        return
    now = when or dt.datetime.now(dt.UTC)
    conn.execute(sa.update(track).where(track.c.new_id == old).values(new_id=survivor))
    conn.execute(sa.update(track).where(track.c.id == old).values(new_id=survivor, updated=now))
    conn.execute(
        sa.update(fingerprint).where(fingerprint.c.track_id == old).values(track_id=survivor)
    )
    for table, key, stream in LINK_TABLES:
        _merge_links(conn, table, key, stream, old, survivor)


def _merge_links(
    conn: Connection,
    table: sa.Table,
    key: str,
    stream: str | None,
    old: int,
    survivor: int,
) -> None:
    kept = {
        r[0]: r[1]
        for r in conn.execute(
            sa.select(table.c[key], table.c.id).where(table.c.track_id == survivor)
        )
    }
    moving = conn.execute(
        sa.select(table.c.id, table.c[key], table.c.submission_count).where(table.c.track_id == old)
    ).all()
    for link_id, value, count in moving:
        target = kept.get(value)
        if target is None:
            conn.execute(sa.update(table).where(table.c.id == link_id).values(track_id=survivor))
            continue
        update: dict[str, Any] = {"submission_count": table.c.submission_count + count}
        if table is track_mbid:
            # Enabled when either was (the merged track's users vouched for it too).
            disabled = conn.execute(
                sa.select(track_mbid.c.disabled).where(track_mbid.c.id == link_id)
            ).scalar_one()
            update["disabled"] = sa.and_(track_mbid.c.disabled, sa.literal(bool(disabled)))
            conn.execute(
                sa.update(track_mbid)
                .where(track_mbid.c.merged_into == link_id)
                .values(merged_into=target)
            )
            for column in ("track_mbid_id", "target_id"):
                conn.execute(
                    sa.update(track_mbid_outbox)
                    .where(track_mbid_outbox.c[column] == link_id)
                    .values({column: target})
                )
        conn.execute(sa.update(table).where(table.c.id == target).values(update))
        conn.execute(sa.delete(table).where(table.c.id == link_id))
        if stream is not None:
            conn.execute(
                sa.update(opendata_idmap)
                .where(opendata_idmap.c.stream == stream, opendata_idmap.c.local_id == link_id)
                .values(local_id=target)
            )


def insert_many(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids, in order."""
    ids: list[int] = []
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for part in chunked(rows):
        ids += [int(i) for i in conn.execute(stmt, list(part)).scalars()]
    return ids


def update_many(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    grow: Sequence[str] = (),
) -> None:
    """Set ``columns`` of each row whose id is the row's ``"_id"``; ``grow`` columns only
    increase (upstream counts are as fresh as the row's last update, never a decrease)."""
    if not rows:
        return
    # Bind names differ from the column names (SQLAlchemy reserves those for SET).
    assigned: dict[str, Any] = {c: sa.bindparam(f"_{c}") for c in columns}
    for c in grow:
        new = sa.bindparam(f"_{c}", type_=table.c[c].type)
        assigned[c] = sa.case((table.c[c] < new, new), else_=table.c[c])
    stmt = sa.update(table).where(table.c.id == sa.bindparam("_id")).values(assigned)
    names = [*columns, *grow]
    params = [{"_id": row["_id"], **{f"_{c}": row[c] for c in names}} for row in rows]
    for part in chunked(params):
        conn.execute(stmt, list(part))


#: The columns :func:`insert_fingerprints` writes, in COPY order, with their binary types.
_FINGERPRINT_COPY = (
    ("id", "int4"),
    ("fingerprint", "bytea"),  # already int4[] in array_send form (see _array_send)
    ("length", "int2"),
    ("created", "timestamptz"),
    ("updated", "timestamptz"),
    ("track_id", "int4"),
    ("submission_count", "int4"),
)


def _array_send(items: Int32Array) -> bytes:
    """``items`` as PostgreSQL's binary int4[] (array_send: one dimension, no NULLs, element
    type int4, then a 4-byte length before each big-endian item)."""
    body = np.empty((len(items), 2), dtype=">i4")
    body[:, 0] = 4
    body[:, 1] = items
    return struct.pack(">iiiii", 1, 0, _INT4_OID, len(items), 1) + body.tobytes()


def insert_fingerprints(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert fingerprint rows (the columns of ``_FINGERPRINT_COPY`` but ``id``); their new ids.

    On PostgreSQL the ids are taken from the sequence in one statement and the rows go in by
    one binary COPY: the server neither parses 950 numbers of text per fingerprint nor plans a
    statement per batch, and the client adapts no array items. Elsewhere :func:`insert_many`.
    """
    if not rows or conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return insert_many(conn, fingerprint, rows)
    import psycopg

    ids = [
        int(i)
        for i in conn.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence('fingerprint', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(rows)},
        ).scalars()
    ]
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    names = ", ".join(name for name, _ in _FINGERPRINT_COPY)
    statement = f"COPY fingerprint ({names}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([kind for _, kind in _FINGERPRINT_COPY])
        for local, row in zip(ids, rows, strict=True):
            copy.write_row(
                (
                    local,
                    _array_send(as_int32(row["fingerprint"])),
                    row["length"],
                    row["created"],
                    row["updated"],
                    row["track_id"],
                    row["submission_count"],
                )
            )
    return ids


_OUTBOX_ADD = sa.text(
    "INSERT INTO index_outbox (fingerprint_id) SELECT unnest(CAST(:ids AS int4[])) "
    "ON CONFLICT (fingerprint_id) DO NOTHING"
)


def outbox_add_many(conn: Connection, ids: Sequence[int]) -> None:
    """Queue fingerprints for the index (one already queued stays queued once)."""
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        for part in chunked(ids, _ARRAY_CHUNK):
            conn.execute(_OUTBOX_ADD, {"ids": list(part)})
        return
    stmt = _insert(conn, index_outbox).on_conflict_do_nothing(index_elements=["fingerprint_id"])
    for part in chunked(ids):
        conn.execute(stmt, [{"fingerprint_id": i} for i in part])
