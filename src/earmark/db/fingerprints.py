"""Named data functions of the fingerprint table group (fingerprint database).

The fingerprint index learns about new fingerprints through ``index_outbox``: the importer adds
a row in the transaction that writes the fingerprint, and :mod:`earmark.indexsync` removes it once
the index has acknowledged the document.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from earmark.db import driver
from earmark.db.links import MbidLink, enabled_mbids_column, parse_mbid_links
from earmark.db.tables import fingerprint, index_outbox, submission_import, track
from earmark.db.types import Int32Array, fast_fingerprint, parse_array_send


@dataclass(frozen=True, slots=True)
class StoredFingerprint:
    id: int
    track_id: int
    track_gid: uuid.UUID
    length: int
    items: Int32Array
    #: The track's enabled MBID links, when asked for (``with_links``).
    links: list[MbidLink] | None = None


def _select_stored(dialect: str, with_links: bool) -> sa.Select[Any]:
    columns = [
        fingerprint.c.id,
        fingerprint.c.track_id,
        track.c.gid,
        fingerprint.c.length,
        fast_fingerprint(fingerprint.c.fingerprint, dialect),
    ]
    if with_links:
        columns.append(enabled_mbids_column(fingerprint.c.track_id, dialect))
    return sa.select(*columns).join(track, track.c.id == fingerprint.c.track_id)


def _stored(
    rows: Sequence[Sequence[Any]],
    with_links: bool,
    items: Callable[[Any], Int32Array] = lambda value: value,  # already an array
) -> list[StoredFingerprint]:
    """Rows of :func:`_select_stored` (SQLAlchemy rows, or driver tuples with ``items``
    parsing the raw fingerprint column)."""
    return [
        StoredFingerprint(
            r[0],
            r[1],
            r[2],
            r[3],
            items(r[4]),
            parse_mbid_links(r[5], r[1]) if with_links else None,
        )
        for r in rows
    ]


#: Up to this many ids, :func:`get_many` applies the duration window after fetching.
FEW_IDS = 64


def get_many(
    conn: Connection,
    ids: Sequence[int],
    *,
    duration: int | None = None,
    max_duration_diff: int = 7,
    with_links: bool = False,
) -> list[StoredFingerprint]:
    """Fingerprints by id with their track; with ``duration``, only those within the window.

    A few ids (a lookup's candidates) are fetched by id alone and the window applied here: a
    statement filtering on ``length`` too tempts PostgreSQL's generic plan (the web service's,
    see :func:`earmark.db.engine.create_engine`) into scanning the ``length`` index, which
    for a common duration means most of the table. Many ids (the importer's scan of unindexed
    fingerprints) are windowed in the statement, sparing their transfer.

    ``with_links``: each with its track's enabled MBID links (a lookup asking for metadata),
    in the same statement.
    """
    if not ids:
        return []
    parameters: dict[str, Any] = {"ids": list(ids)}
    windowed = duration is not None and len(ids) > FEW_IDS
    if duration is not None and windowed:
        parameters["shortest"] = duration - max_duration_diff
        parameters["longest"] = duration + max_duration_diff
    query = _get_many_query(conn.dialect.name, windowed, with_links)
    if driver.usable(conn):
        # Every lookup runs this statement: on the driver, binary (earmark.db.driver).
        rows = driver.fetch_all(conn, query, parameters)
        found = _stored(rows, with_links, parse_array_send)
    else:
        found = _stored(conn.execute(query, parameters).all(), with_links)
    if duration is None or windowed:
        return found
    return [f for f in found if abs(f.length - duration) <= max_duration_diff]


@functools.cache
def _get_many_query(dialect: str, windowed: bool, with_links: bool) -> sa.Select[Any]:
    # Built once (every lookup runs it): a reused statement hits SQLAlchemy's compiled cache
    # without building the statement and its cache key again.
    query = _select_stored(dialect, with_links).where(_among(fingerprint.c.id, "ids", dialect))
    if windowed:
        query = query.where(
            fingerprint.c.length.between(sa.bindparam("shortest"), sa.bindparam("longest"))
        )
    return query.order_by(fingerprint.c.id)


def _among(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    # PostgreSQL: one array parameter, so the statement's text does not depend on the number of
    # values and psycopg prepares it after a few executions (no parsing and planning).
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def get(conn: Connection, fingerprint_id: int) -> StoredFingerprint | None:
    found = get_many(conn, [fingerprint_id])
    return found[0] if found else None


def after(conn: Connection, last_id: int, limit: int = 1000) -> list[tuple[int, Int32Array]]:
    """Up to ``limit`` fingerprints (id, items) with ids above ``last_id``, in id order: the
    clip index catches up with the table through this (:mod:`earmark.clipsync`)."""
    rows = conn.execute(
        sa.select(fingerprint.c.id, fingerprint.c.fingerprint)
        .where(fingerprint.c.id > last_id)
        .order_by(fingerprint.c.id)
        .limit(limit)
    ).all()
    return [(int(r[0]), np.asarray(r[1], dtype=np.int32)) for r in rows]


def unindexed_ids(conn: Connection, limit: int = 10_000) -> list[int]:
    """Ids of fingerprints written but not yet confirmed by the index, oldest first."""
    return list(
        conn.execute(
            sa.select(index_outbox.c.fingerprint_id)
            .order_by(index_outbox.c.fingerprint_id)
            .limit(limit)
        ).scalars()
    )


def outbox_batch(conn: Connection, limit: int) -> list[tuple[int, Int32Array]]:
    """The oldest fingerprints waiting for the index: (id, items)."""
    ids = unindexed_ids(conn, limit)  # first, alone: see unindexed()
    if not ids:
        return []
    items = fast_fingerprint(fingerprint.c.fingerprint, conn.dialect.name)
    rows = conn.execute(
        sa.select(fingerprint.c.id, items)
        .where(fingerprint.c.id.in_(ids))
        .order_by(fingerprint.c.id)
    ).all()
    return [(r.id, r.fingerprint) for r in rows]


def outbox_add(conn: Connection, fingerprint_id: int) -> None:
    conn.execute(sa.insert(index_outbox).values(fingerprint_id=fingerprint_id))


def outbox_add_all(conn: Connection) -> int:
    """Put every fingerprint in the outbox (before rebuilding the index); returns how many."""
    waiting = sa.select(index_outbox.c.fingerprint_id)
    result = conn.execute(
        sa.insert(index_outbox).from_select(
            ["fingerprint_id"],
            sa.select(fingerprint.c.id).where(fingerprint.c.id.not_in(waiting)),
        )
    )
    return int(result.rowcount)


def outbox_remove(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(sa.delete(index_outbox).where(index_outbox.c.fingerprint_id.in_(list(ids))))


def outbox_size(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(index_outbox)).scalar_one())


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """How far the index has followed the fingerprint table (the admin page)."""

    #: Fingerprints written but not yet confirmed by the index (``index_outbox`` rows).
    waiting: int
    #: When the oldest of them was queued (None: none waits).
    oldest_waiting: datetime | None
    #: The newest fingerprint the index has confirmed: its id and when it was written.
    last_indexed_id: int | None
    last_indexed_created: datetime | None


def index_progress(conn: Connection) -> IndexProgress:
    """The outbox's size and age, and the newest confirmed fingerprint: a backward walk of
    the primary key that stops at the first fingerprint not in the (small) outbox."""
    waiting, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(index_outbox.c.created))
    ).one()
    queued = sa.exists().where(index_outbox.c.fingerprint_id == fingerprint.c.id)
    last = conn.execute(
        sa.select(fingerprint.c.id, fingerprint.c.created)
        .where(~queued)
        .order_by(fingerprint.c.id.desc())
        .limit(1)
    ).first()
    return IndexProgress(
        waiting=int(waiting),
        oldest_waiting=oldest,
        last_indexed_id=None if last is None else int(last.id),
        last_indexed_created=None if last is None else last.created,
    )


def count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(fingerprint)).scalar_one())


# --- writes (the importer) ----------------------------------------------------------------


def insert(
    conn: Connection,
    *,
    items: Sequence[int] | npt.NDArray[np.integer],
    length: int,
    bitrate: int | None,
    format_id: int | None,
    track_id: int,
) -> int:
    """A new fingerprint of ``track_id`` with ``submission_count`` 1, queued for the index.

    A bitrate that is not positive is stored as unknown (the column's check allows > 0 only).
    """
    new_id = conn.execute(
        sa.insert(fingerprint)
        .values(
            fingerprint=items,
            length=length,
            bitrate=bitrate if bitrate is not None and bitrate > 0 else None,
            format_id=format_id,
            track_id=track_id,
            submission_count=1,
        )
        .returning(fingerprint.c.id)
    ).scalar_one()
    outbox_add(conn, int(new_id))
    return int(new_id)


def increment_submission_count(conn: Connection, fingerprint_id: int) -> None:
    """One more submission of an existing fingerprint."""
    add_submission_counts(conn, {fingerprint_id: 1})


def add_submission_counts(conn: Connection, counts: Mapping[int, int]) -> None:
    """More submissions of existing fingerprints (id → how many), one batched UPDATE in id
    order (two importers lock shared rows in the same order)."""
    if counts:
        conn.execute(
            sa.update(fingerprint)
            .where(fingerprint.c.id == sa.bindparam("fp_id"))
            .values(
                submission_count=fingerprint.c.submission_count + sa.bindparam("n_added"),
                updated=sa.func.now(),
            ),
            [{"fp_id": fp_id, "n_added": n} for fp_id, n in sorted(counts.items())],
        )


def submission_count(conn: Connection, fingerprint_id: int) -> int | None:
    found = conn.execute(
        sa.select(fingerprint.c.submission_count).where(fingerprint.c.id == fingerprint_id)
    ).scalar_one_or_none()
    return None if found is None else int(found)


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """What importing one submission did in the fingerprint database (``submission_import``)."""

    submission_id: int
    fingerprint_id: int
    track_id: int
    meta_id: int | None
    new_fingerprint: bool


def record_import(conn: Connection, record: ImportRecord) -> None:
    """Mark a submission's fingerprint-side work as done, in the same transaction as the work."""
    record_imports(conn, [record])


def record_imports(conn: Connection, records: Sequence[ImportRecord]) -> None:
    """:func:`record_import` for a group of submissions."""
    if records:
        conn.execute(
            sa.insert(submission_import),
            [
                {
                    "submission_id": r.submission_id,
                    "fingerprint_id": r.fingerprint_id,
                    "track_id": r.track_id,
                    "meta_id": r.meta_id,
                    "new_fingerprint": r.new_fingerprint,
                }
                for r in records
            ],
        )


def get_import(conn: Connection, submission_id: int) -> ImportRecord | None:
    return get_imports(conn, [submission_id]).get(submission_id)


def get_imports(conn: Connection, submission_ids: Sequence[int]) -> dict[int, ImportRecord]:
    """The recorded imports among ``submission_ids``, by submission id."""
    if not submission_ids:
        return {}
    rows = conn.execute(
        sa.select(submission_import).where(
            submission_import.c.submission_id.in_(list(submission_ids))
        )
    )
    found = {}
    for row in rows:
        if row.fingerprint_id is None or row.track_id is None:
            # Only complete imports are recorded; anything else was written by hand.
            raise RuntimeError(f"submission_import {row.submission_id} has no fingerprint or track")
        found[row.submission_id] = ImportRecord(
            row.submission_id, row.fingerprint_id, row.track_id, row.meta_id, row.new_fingerprint
        )
    return found
