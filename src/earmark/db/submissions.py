"""Named data functions of the submission table group (ingest database).

A submission is stored by ``/v2/submit`` (:func:`create`: the ``submission`` row and its
``pending_submission`` row), imported by the importer (:mod:`earmark.importer.decide`), and read
back by ``/v2/submission_status`` (:func:`status_many`). Unlike the reference, a submission ends
in a visible state: ``imported``, ``skipped`` (with a reason) or ``failed`` (after
``max_attempts`` errors, see :func:`record_error`).

The provenance rows the importer writes (``fingerprint_source``, ``track_*_source``,
``submission_result``) live in the ingest database too, so their writers are here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import meta as meta_data
from earmark.db.engine import is_sqlite
from earmark.db.links import LinkKind
from earmark.db.tables import (
    SubmissionStatus,
    fingerprint,
    fingerprint_source,
    index_outbox,
    pending_submission,
    submission,
    submission_result,
    track,
    track_foreignid_source,
    track_mbid_source,
    track_meta_source,
    track_puid_source,
)
from earmark.db.types import Int32Array

#: The all-zero UUID some clients send for "no MBID/PUID": it counts as absent (§9.3.3).
NIL_UUID = uuid.UUID(int=0)

_LINK_SOURCES: dict[LinkKind, tuple[sa.Table, str]] = {
    "mbid": (track_mbid_source, "track_mbid_id"),
    "puid": (track_puid_source, "track_puid_id"),
    "meta": (track_meta_source, "track_meta_id"),
    "foreignid": (track_foreignid_source, "track_foreignid_id"),
}


@dataclass(frozen=True, slots=True)
class Submission:
    id: int
    created: datetime
    account_id: int
    application_id: int
    application_version: str | None
    fingerprint: Int32Array
    length: int
    bitrate: int | None
    format: str | None
    meta: dict[str, Any] | None
    meta_gid: uuid.UUID | None
    mbid: uuid.UUID | None
    puid: uuid.UUID | None
    foreignid: str | None
    status: SubmissionStatus
    reason: str | None
    attempts: int
    handled: bool
    handled_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What ``/v2/submission_status`` needs about one submission."""

    id: int
    status: SubmissionStatus
    reason: str | None
    #: For imported submissions: the fingerprint and its *current* track (after merges).
    fingerprint_id: int | None = None
    track_gid: uuid.UUID | None = None


def usable_uuid(value: uuid.UUID | None) -> uuid.UUID | None:
    """``value``, or None for None and the all-zero UUID."""
    return None if value is None or value == NIL_UUID else value


def has_link_data(
    *,
    mbid: uuid.UUID | None,
    puid: uuid.UUID | None,
    meta: Mapping[str, object] | None,
    foreignid: str | None,
) -> bool:
    """True when a submission carries something to link a track to.

    Beyond the reference, a foreign id alone is enough (reference §17 quirk 4).
    """
    return bool(usable_uuid(mbid) or usable_uuid(puid) or meta_data.normalize(meta) or foreignid)


def create(
    conn: Connection,
    *,
    account_id: int,
    application_id: int,
    application_version: str | None,
    fingerprint: Sequence[int] | npt.NDArray[np.integer],
    length: int,
    bitrate: int | None,
    format: str | None,
    meta: Mapping[str, object] | None,
    mbid: uuid.UUID | None,
    puid: uuid.UUID | None,
    foreignid: str | None,
) -> int:
    """Store one submission and queue it (its ``pending_submission`` row); returns its id.

    ``meta`` is normalised (reference §4.2) and its gid stored in ``meta_gid``; empty
    metadata is stored as NULL.
    """
    normal = meta_data.normalize(meta)
    new_id = conn.execute(
        sa.insert(submission)
        .values(
            account_id=account_id,
            application_id=application_id,
            application_version=application_version or None,
            fingerprint=fingerprint,
            length=length,
            bitrate=bitrate,
            format=format or None,
            meta=normal or None,
            meta_gid=meta_data.gid_of(normal) if normal else None,
            mbid=mbid,
            puid=puid,
            foreignid=foreignid or None,
            status="pending",
        )
        .returning(submission.c.id)
    ).scalar_one()
    conn.execute(sa.insert(pending_submission).values(id=new_id))
    return int(new_id)


def _to_submission(row: sa.Row[Any]) -> Submission:
    return Submission(
        id=row.id,
        created=row.created,
        account_id=row.account_id,
        application_id=row.application_id,
        application_version=row.application_version,
        fingerprint=row.fingerprint,
        length=row.length,
        bitrate=row.bitrate,
        format=row.format,
        meta=row.meta,
        meta_gid=row.meta_gid,
        mbid=row.mbid,
        puid=row.puid,
        foreignid=row.foreignid,
        status=cast(SubmissionStatus, row.status),
        reason=row.reason,
        attempts=row.attempts,
        handled=row.handled,
        handled_at=row.handled_at,
    )


def get(conn: Connection, submission_id: int) -> Submission | None:
    row = conn.execute(sa.select(submission).where(submission.c.id == submission_id)).first()
    return None if row is None else _to_submission(row)


def lock(conn: Connection, submission_id: int) -> Submission | None:
    """The submission, its row locked until the transaction ends (``FOR UPDATE`` on PostgreSQL;
    SQLite's write transaction already excludes every other writer)."""
    query = sa.select(submission).where(submission.c.id == submission_id)
    if not is_sqlite(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _to_submission(row)


def lock_many(conn: Connection, ids: Sequence[int]) -> dict[int, Submission]:
    """:func:`lock` for a group of submissions, by id (missing ids are left out); rows are
    locked in id order, as every importer takes them, so two importers never lock crosswise."""
    query = sa.select(submission).where(submission.c.id.in_(sorted(set(ids))))
    if not is_sqlite(conn):
        query = query.order_by(submission.c.id).with_for_update()
    return {row.id: _to_submission(row) for row in conn.execute(query)}


def status_many(
    conn: Connection, ids: Sequence[int], *, fingerprint_conn: Connection | None = None
) -> dict[int, StatusInfo]:
    """The state of the submissions ``ids`` that exist, by id.

    ``conn`` is the ingest database; ``fingerprint_conn`` the fingerprint database when it is a
    different one (it resolves an imported submission's fingerprint to its current track gid).
    """
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(
            submission.c.id,
            submission.c.status,
            submission.c.reason,
            submission_result.c.fingerprint_id,
        )
        .outerjoin(submission_result, submission_result.c.submission_id == submission.c.id)
        .where(submission.c.id.in_(list(set(ids))))
    ).all()
    fp_ids = {r.fingerprint_id for r in rows if r.status == "imported" and r.fingerprint_id}
    gids = _current_track_gids(fingerprint_conn or conn, fp_ids)
    unsearchable = _waiting_for_index(fingerprint_conn or conn, fp_ids)
    result: dict[int, StatusInfo] = {}
    for r in rows:
        status = cast(SubmissionStatus, r.status)
        if status == "imported" and r.fingerprint_id in unsearchable:
            # Committed, but the index has not taken the new fingerprint yet: a lookup would
            # not find it, so the client is told to wait (imported means found by lookups).
            result[r.id] = StatusInfo(r.id, "pending", None)
        elif status == "imported" and r.fingerprint_id in gids:
            result[r.id] = StatusInfo(
                r.id, status, r.reason, r.fingerprint_id, gids[r.fingerprint_id]
            )
        else:
            result[r.id] = StatusInfo(r.id, status, r.reason)
    return result


def _waiting_for_index(conn: Connection, fingerprint_ids: set[int]) -> set[int]:
    """Those of ``fingerprint_ids`` written but not yet confirmed by the fingerprint index."""
    if not fingerprint_ids:
        return set()
    return {
        int(i)
        for i in conn.execute(
            sa.select(index_outbox.c.fingerprint_id).where(
                index_outbox.c.fingerprint_id.in_(sorted(fingerprint_ids))
            )
        ).scalars()
    }


def _current_track_gids(conn: Connection, fingerprint_ids: set[int]) -> dict[int, uuid.UUID]:
    """fingerprint id → the gid of its track, following a merged track's ``new_id`` once."""
    if not fingerprint_ids:
        return {}
    merged = track.alias("merged")
    rows = conn.execute(
        sa.select(fingerprint.c.id, track.c.gid, merged.c.gid.label("new_gid"))
        .join(track, track.c.id == fingerprint.c.track_id)
        .outerjoin(merged, merged.c.id == track.c.new_id)
        .where(fingerprint.c.id.in_(sorted(fingerprint_ids)))
    ).all()
    return {r.id: r.new_gid or r.gid for r in rows}


# --- the queue table ----------------------------------------------------------------------


def lock_pending(conn: Connection, limit: int) -> list[int]:
    """Up to ``limit`` pending submission ids, oldest first, locked for this transaction.

    On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so concurrent importers get
    different ids; SQLite has a single writer and needs no row locks.
    """
    query = sa.select(pending_submission.c.id).order_by(pending_submission.c.id).limit(limit)
    if not is_sqlite(conn):
        query = query.with_for_update(skip_locked=True)
    return [int(i) for i in conn.execute(query).scalars()]


def pending_ids(conn: Connection, *, older_than: timedelta | None, limit: int) -> list[int]:
    """Pending submission ids, oldest first; with ``older_than``, only those queued before
    ``now - older_than`` (for re-publishing messages a queue may have lost)."""
    query = sa.select(pending_submission.c.id).order_by(pending_submission.c.id).limit(limit)
    if older_than is not None:
        query = query.where(pending_submission.c.created < _now_minus(conn, older_than))
    return [int(i) for i in conn.execute(query).scalars()]


def pending_count(conn: Connection) -> int:
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(pending_submission)).scalar_one()
    )


def _now_minus(conn: Connection, delta: timedelta) -> Any:
    if is_sqlite(conn):
        # SQLite stores timestamps as naive UTC text (CURRENT_TIMESTAMP); compare like with like.
        return (datetime.now(UTC) - delta).replace(tzinfo=None)
    return sa.func.now() - sa.literal(delta, sa.Interval())


def remove_pending(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(sa.delete(pending_submission).where(pending_submission.c.id.in_(list(ids))))


def record_error(conn: Connection, submission_id: int, reason: str, max_attempts: int) -> bool:
    """Count a failed import attempt and keep its reason; True when the submission gave up.

    When ``attempts`` reaches ``max_attempts`` the submission becomes ``failed`` and leaves the
    queue. Only pending submissions are touched.
    """
    attempts = conn.execute(
        sa.update(submission)
        .where(submission.c.id == submission_id, submission.c.status == "pending")
        .values(attempts=submission.c.attempts + 1, reason=reason)
        .returning(submission.c.attempts)
    ).scalar_one_or_none()
    if attempts is None:
        return False
    if attempts >= max_attempts:
        mark_failed(conn, submission_id, reason)
        return True
    return False


def mark_failed(conn: Connection, submission_id: int, reason: str) -> None:
    """Give up on a pending submission: status ``failed`` with ``reason``, out of the queue."""
    finish(conn, submission_id, "failed", reason)


def finish(
    conn: Connection, submission_id: int, status: SubmissionStatus, reason: str | None = None
) -> None:
    """Set a pending submission's final status, mark it handled and remove its queue row."""
    finish_many(conn, [(submission_id, status, reason)])


def finish_many(
    conn: Connection, finished: Sequence[tuple[int, SubmissionStatus, str | None]]
) -> None:
    """:func:`finish` for a group: (id, status, reason) each, one batched UPDATE and DELETE."""
    if not finished:
        return
    conn.execute(
        sa.update(submission)
        .where(submission.c.id == sa.bindparam("sub_id"), submission.c.status == "pending")
        .values(
            status=sa.bindparam("new_status"),
            reason=sa.bindparam("new_reason"),
            handled=True,
            handled_at=sa.func.now(),
        ),
        [
            {"sub_id": sid, "new_status": status, "new_reason": reason}
            for sid, status, reason in sorted(finished, key=lambda f: f[0])
        ],
    )
    remove_pending(conn, sorted(f[0] for f in finished))


# --- provenance (written by the importer) -------------------------------------------------


def add_fingerprint_sources(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Many ``fingerprint_source`` rows, (fingerprint id, submission id, source id) each."""
    if rows:
        conn.execute(
            sa.insert(fingerprint_source),
            [{"fingerprint_id": f, "submission_id": s, "source_id": src} for f, s, src in rows],
        )


def add_link_sources(
    conn: Connection, kind: LinkKind, rows: Sequence[tuple[int, int, int]]
) -> None:
    """Many provenance rows of one kind of link, (link id, submission id, source id) each."""
    table, key = _LINK_SOURCES[kind]
    if rows:
        conn.execute(
            sa.insert(table),
            [{key: link, "submission_id": s, "source_id": src} for link, s, src in rows],
        )


@dataclass(frozen=True, slots=True)
class Result:
    """A ``submission_result`` row: what an imported submission came to."""

    submission_id: int
    fingerprint_id: int
    track_id: int
    meta_id: int | None
    meta_gid: uuid.UUID | None
    mbid: uuid.UUID | None
    puid: uuid.UUID | None
    foreignid: str | None


def insert_results(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many ``submission_result`` rows (made by :func:`result_row`), handled now."""
    if rows:
        conn.execute(sa.insert(submission_result).values(handled_at=sa.func.now()), list(rows))


def result_row(
    sub: Submission, fingerprint_id: int, track_id: int, meta_id: int | None
) -> dict[str, Any]:
    """The values of the ``submission_result`` row of an imported submission."""
    return {
        "submission_id": sub.id,
        "account_id": sub.account_id,
        "application_id": sub.application_id,
        "application_version": sub.application_version,
        "fingerprint_id": fingerprint_id,
        "track_id": track_id,
        "meta_gid": meta_data.gid_of(meta_data.normalize(sub.meta))
        if meta_id is not None
        else None,
        "meta_id": meta_id,
        "mbid": usable_uuid(sub.mbid),
        "puid": usable_uuid(sub.puid),
        "foreignid": sub.foreignid,
    }


def get_result(conn: Connection, submission_id: int) -> Result | None:
    row = conn.execute(
        sa.select(submission_result).where(submission_result.c.submission_id == submission_id)
    ).first()
    if row is None:
        return None
    return Result(
        row.submission_id,
        row.fingerprint_id,
        row.track_id,
        row.meta_id,
        row.meta_gid,
        row.mbid,
        row.puid,
        row.foreignid,
    )


def counts_by_status(conn: Connection) -> dict[str, int]:
    """How many submissions are in each status (for metrics and ``earmark`` status output)."""
    rows = conn.execute(
        sa.select(submission.c.status, sa.func.count()).group_by(submission.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


@dataclass(frozen=True, slots=True)
class Backlog:
    """The importer's queue as ``/metrics`` shows it."""

    #: Submissions waiting to be imported (``pending_submission`` rows).
    pending: int
    #: Age in seconds of the oldest of them (0 when none waits), by the database's clock.
    oldest_age: float


def backlog(conn: Connection) -> Backlog:
    """How many submissions wait and for how long the oldest has (one indexed-table scan).

    The age is computed by the database from its own clock, the one that stamped ``created``,
    so a skewed API host clock cannot distort it.
    """
    oldest = sa.func.min(pending_submission.c.created)
    age: sa.ColumnElement[Any]
    if is_sqlite(conn):
        # SQLite stores CURRENT_TIMESTAMP text (UTC, whole seconds); julianday() reads both.
        age = (sa.func.julianday("now") - sa.func.julianday(oldest)) * 86400.0
    else:
        age = sa.extract("epoch", sa.func.now() - oldest)
    pending, seconds = conn.execute(
        sa.select(sa.func.count(), age).select_from(pending_submission)
    ).one()
    return Backlog(int(pending), max(0.0, float(seconds or 0.0)))
