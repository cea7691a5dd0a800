"""Named data functions of MBID maintenance (reference §10): merges, the unknown-MBID clock.

Tables: ``track_mbid``, ``mbid_unknown`` and ``track_mbid_outbox`` (fingerprint role);
``track_mbid_source`` and ``track_mbid_change`` (ingest role); ``account`` and ``cron_state``
(app role).

Merging an MBID or disabling its links changes ``track_mbid`` (fingerprint database) and the
rows that point at it (ingest database). The reference did both under a two-phase commit; here
the fingerprint transaction also writes what the ingest side must do into
``track_mbid_outbox``. :func:`merge_mbid` and :func:`disable_links` apply it within the same
:meth:`Databases.write` (one transaction when the roles share a database); if the roles are split
and the ingest commit is lost, the outbox still holds the work, which :func:`apply_outbox`
repeats safely and :func:`clear_outbox` then removes.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db.engine import Connections
from earmark.db.tables import (
    account,
    cron_state,
    mbid_unknown,
    track_mbid,
    track_mbid_change,
    track_mbid_outbox,
    track_mbid_source,
)

#: The account that signs the automatic changes (reference §10).
BOT_ACCOUNT = "acoustid_bot"
UNKNOWN_NOTE = "MBID has been unknown for too long"
SWEEP_CURSOR = "sweep-mbids.cursor"

OutboxKind = Literal["repoint", "disable"]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Ingest-side work of one ``track_mbid`` change (see the module docstring)."""

    id: int
    kind: OutboxKind
    track_mbid_id: int
    target_id: int | None = None
    account_id: int | None = None
    note: str | None = None
    created: dt.datetime | None = None


def utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (SQLite hands timestamps back without their zone)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def parse_mbid(mbid: str | uuid.UUID) -> uuid.UUID:
    """An MBID as a UUID; raises ValueError for anything else."""
    return mbid if isinstance(mbid, uuid.UUID) else uuid.UUID(str(mbid))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the outbox -----------------------------------------------------------------------------


def _add_outbox(conn: Connection, rows: list[dict[str, Any]]) -> list[OutboxEntry]:
    entries = []
    for row in rows:
        created = _now()
        new_id = conn.execute(
            sa.insert(track_mbid_outbox)
            .values(**row, created=created)
            .returning(track_mbid_outbox.c.id)
        ).scalar_one()
        entries.append(OutboxEntry(id=new_id, created=created, **row))
    return entries


def pending_outbox(conn: Connection, limit: int = 1000) -> list[OutboxEntry]:
    """Outbox rows not yet cleared, oldest first (fingerprint connection)."""
    t = track_mbid_outbox
    query = sa.select(
        t.c.id, t.c.kind, t.c.track_mbid_id, t.c.target_id, t.c.account_id, t.c.note, t.c.created
    )
    rows = conn.execute(query.order_by(t.c.id).limit(limit))
    return [
        OutboxEntry(
            r.id, r.kind, r.track_mbid_id, r.target_id, r.account_id, r.note, utc(r.created)
        )
        for r in rows
    ]


def apply_outbox(conn: Connection, entries: Sequence[OutboxEntry]) -> None:
    """Do the ingest side of ``entries`` (ingest connection). Safe to repeat.

    ``repoint`` moves the source and change rows of a merged link to its target; ``disable``
    records the change note, unless an identical note was written since the entry was made.
    """
    now = _now()
    for entry in entries:
        if entry.kind == "repoint":
            for table in (track_mbid_source, track_mbid_change):
                conn.execute(
                    sa.update(table)
                    .where(table.c.track_mbid_id == entry.track_mbid_id)
                    .values(track_mbid_id=entry.target_id, updated=now)
                )
            continue
        done = sa.select(track_mbid_change.c.id).where(
            track_mbid_change.c.track_mbid_id == entry.track_mbid_id,
            track_mbid_change.c.account_id == entry.account_id,
            track_mbid_change.c.disabled.is_(sa.true()),
            track_mbid_change.c.note == entry.note,
        )
        if entry.created is not None:
            done = done.where(track_mbid_change.c.created >= utc(entry.created))
        if conn.execute(done.limit(1)).first() is None:
            conn.execute(
                sa.insert(track_mbid_change).values(
                    track_mbid_id=entry.track_mbid_id,
                    account_id=entry.account_id,
                    disabled=True,
                    note=entry.note,
                    created=utc(entry.created) if entry.created else now,
                )
            )


def clear_outbox(conn: Connection, ids: Iterable[int]) -> None:
    """Forget outbox rows whose ingest side is committed (fingerprint connection)."""
    wanted = sorted(set(ids))
    if wanted:
        conn.execute(sa.delete(track_mbid_outbox).where(track_mbid_outbox.c.id.in_(wanted)))


# --- merges ---------------------------------------------------------------------------------


def _final_target(conn: Connection, row: Any) -> Any:
    """Follow ``merged_into`` from a target link to the link that is really in use."""
    seen = {row.id}
    while row.merged_into is not None and row.merged_into not in seen:
        seen.add(row.merged_into)
        found = conn.execute(_link_query().where(track_mbid.c.id == row.merged_into)).first()
        if found is None:
            break
        row = found
    return row


def _link_query() -> sa.Select[Any]:
    return sa.select(
        track_mbid.c.id,
        track_mbid.c.track_id,
        track_mbid.c.submission_count,
        track_mbid.c.disabled,
        track_mbid.c.merged_into,
    )


def merge_track_mbids(
    conn: Connection, old: str | uuid.UUID, new: str | uuid.UUID, now: dt.datetime | None = None
) -> list[OutboxEntry]:
    """The fingerprint side of merging MBID ``old`` into ``new``, for every track linking ``old``.

    Per link: the track's link to ``new`` is reused or created; it gains the old link's
    submission count and stays disabled only if both links were; the old link becomes disabled
    with count 0 and ``merged_into`` the new one. Links merged before are left alone. Returns
    the outbox entries (``repoint``) that the ingest side still needs.
    """
    old_id, new_id = parse_mbid(old), parse_mbid(new)
    if old_id == new_id:
        return []
    now = now or _now()
    sources = conn.execute(
        _link_query()
        .where(track_mbid.c.mbid == old_id, track_mbid.c.merged_into.is_(None))
        .order_by(track_mbid.c.id)
        .with_for_update()
    ).all()
    work: list[dict[str, Any]] = []
    for src in sources:
        found = conn.execute(
            _link_query()
            .where(track_mbid.c.track_id == src.track_id, track_mbid.c.mbid == new_id)
            .with_for_update()
        ).first()
        if found is None:
            target_id = conn.execute(
                sa.insert(track_mbid)
                .values(
                    track_id=src.track_id,
                    mbid=new_id,
                    submission_count=src.submission_count,
                    disabled=src.disabled,
                    created=now,
                )
                .returning(track_mbid.c.id)
            ).scalar_one()
        else:
            target = _final_target(conn, found)
            target_id = target.id
            conn.execute(
                sa.update(track_mbid)
                .where(track_mbid.c.id == target_id)
                .values(
                    submission_count=track_mbid.c.submission_count + src.submission_count,
                    disabled=bool(target.disabled and src.disabled),
                    updated=now,
                )
            )
        conn.execute(
            sa.update(track_mbid)
            .where(track_mbid.c.id == src.id)
            .values(disabled=True, submission_count=0, merged_into=target_id, updated=now)
        )
        work.append({"kind": "repoint", "track_mbid_id": src.id, "target_id": target_id})
    return _add_outbox(conn, work)


def merge_mbid(
    conns: Connections, old: str | uuid.UUID, new: str | uuid.UUID, now: dt.datetime | None = None
) -> list[OutboxEntry]:
    """Merge MBID ``old`` into ``new`` on both sides; clear the returned entries after commit."""
    entries = merge_track_mbids(conns.fingerprint, old, new, now)
    apply_outbox(conns.ingest, entries)
    return entries


# --- disabling the links of an unknown MBID -------------------------------------------------


def bot_account_id(conn: Connection) -> int:
    """The id of the ``acoustid_bot`` account (app connection), created if missing.

    Only a plain account counts (no MusicBrainz user, not anonymous), so that a person who
    calls themselves acoustid_bot does not sign the bot's changes.
    """
    query = (
        sa.select(account.c.id)
        .where(
            account.c.name == BOT_ACCOUNT,
            account.c.mbuser.is_(None),
            account.c.anonymous.is_(sa.false()),
        )
        .order_by(account.c.id)
        .limit(1)
    )
    found = conn.execute(query).scalar()
    if found is not None:
        return int(found)
    # The API key is random and never shown: nobody can act as the bot through the API.
    return int(
        conn.execute(
            sa.insert(account)
            .values(name=BOT_ACCOUNT, apikey=secrets.token_urlsafe(24))
            .returning(account.c.id)
        ).scalar_one()
    )


def disable_track_mbids(
    conn: Connection,
    mbid: str | uuid.UUID,
    account_id: int,
    note: str,
    now: dt.datetime | None = None,
) -> list[OutboxEntry]:
    """Disable every enabled link to ``mbid`` (fingerprint side); the notes go to the outbox."""
    ids = list(
        conn.scalars(
            sa.select(track_mbid.c.id)
            .where(track_mbid.c.mbid == parse_mbid(mbid), track_mbid.c.disabled.is_(sa.false()))
            .order_by(track_mbid.c.id)
            .with_for_update()
        )
    )
    if not ids:
        return []
    conn.execute(
        sa.update(track_mbid)
        .where(track_mbid.c.id.in_(ids))
        .values(disabled=True, updated=now or _now())
    )
    return _add_outbox(
        conn,
        [
            {"kind": "disable", "track_mbid_id": i, "account_id": account_id, "note": note}
            for i in ids
        ],
    )


def disable_links(
    conns: Connections, mbid: str | uuid.UUID, note: str = UNKNOWN_NOTE
) -> list[OutboxEntry]:
    """Disable every link to ``mbid`` with a change note by ``acoustid_bot``, on both sides."""
    bot = bot_account_id(conns.app)
    entries = disable_track_mbids(conns.fingerprint, mbid, bot, note)
    apply_outbox(conns.ingest, entries)
    return entries


# --- the unknown-MBID clock -----------------------------------------------------------------


def mark_unknown(conn: Connection, mbid: str | uuid.UUID, at: dt.datetime) -> dt.datetime:
    """Start the clock of ``mbid`` at ``at`` unless it runs already; returns its start."""
    key = parse_mbid(mbid)
    found = conn.execute(
        sa.select(mbid_unknown.c.first_unknown).where(mbid_unknown.c.mbid == key)
    ).scalar()
    if found is not None:
        return utc(found)
    conn.execute(sa.insert(mbid_unknown).values(mbid=key, first_unknown=utc(at)))
    return utc(at)


def forget_unknown(conn: Connection, mbids: Iterable[str | uuid.UUID]) -> int:
    """Stop the clocks of ``mbids`` (found in MusicBrainz, merged, or their links disabled)."""
    keys = sorted({parse_mbid(m) for m in mbids})
    if not keys:
        return 0
    return conn.execute(sa.delete(mbid_unknown).where(mbid_unknown.c.mbid.in_(keys))).rowcount


def unknown_before(conn: Connection, before: dt.datetime, limit: int = 1000) -> list[str]:
    """MBIDs whose clock started at or before ``before`` (due for the 7-day rule)."""
    rows = conn.scalars(
        sa.select(mbid_unknown.c.mbid)
        .where(mbid_unknown.c.first_unknown <= utc(before))
        .order_by(mbid_unknown.c.first_unknown, mbid_unknown.c.mbid)
        .limit(limit)
    )
    return [str(m) for m in rows]


# --- the sweep ------------------------------------------------------------------------------


def linked_mbids(conn: Connection, after: str | None = None, limit: int = 1000) -> list[str]:
    """Distinct MBIDs with at least one enabled link, in order, after ``after``."""
    query = sa.select(track_mbid.c.mbid).where(track_mbid.c.disabled.is_(sa.false())).distinct()
    if after is not None:
        query = query.where(track_mbid.c.mbid > parse_mbid(after))
    return [str(m) for m in conn.scalars(query.order_by(track_mbid.c.mbid).limit(limit))]


def load_sweep_cursor(conn: Connection) -> str | None:
    """Where the MBID sweep stopped (app connection; None: at the start)."""
    value = conn.execute(
        sa.select(cron_state.c.value).where(cron_state.c.name == SWEEP_CURSOR)
    ).scalar()
    return str(value) if value else None


def save_sweep_cursor(conn: Connection, mbid: str | None) -> None:
    """Remember where the sweep stopped (None: start over next time)."""
    conn.execute(sa.delete(cron_state).where(cron_state.c.name == SWEEP_CURSOR))
    conn.execute(sa.insert(cron_state).values(name=SWEEP_CURSOR, value=mbid or "", updated=_now()))
