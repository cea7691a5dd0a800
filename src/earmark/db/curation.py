"""Named data functions of the website's data pages and of manual curation (reference §9.4).

Reads: a track's fingerprints with their submission counts, the tracks linked to an MBID, the
history of a track's MBID link changes (``track_mbid_change``, ingest database) and the names of
the accounts that made them. Writes: :func:`toggle_mbid_link`, which disables or re-enables one
link and records who did it and why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import links
from earmark.db.engine import Connections
from earmark.db.mbids import utc
from earmark.db.tables import account, fingerprint, track, track_mbid, track_mbid_change

#: The longest note a curator may leave on a change.
NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class FingerprintSummary:
    """One fingerprint of a track, without its items (the track page lists up to thousands)."""

    id: int
    length: int
    submission_count: int


@dataclass(frozen=True, slots=True)
class LinkedTrack:
    """One track linked to an MBID, with the link's submission count and state."""

    track_id: int
    gid: uuid.UUID
    submission_count: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class MbidChange:
    """One manual or automatic change of an MBID link (newest first in lists)."""

    id: int
    track_mbid_id: int
    account_id: int
    created: dt.datetime
    disabled: bool
    note: str | None


class ToggleOutcome(Enum):
    CHANGED = "changed"
    #: The link already was in the asked state: nothing written.
    UNCHANGED = "unchanged"
    #: The track has no link to that MBID.
    NO_LINK = "no_link"


def track_fingerprints(conn: Connection, track_id: int) -> list[FingerprintSummary]:
    """The fingerprints of a track (fingerprint connection), in id order."""
    rows = conn.execute(
        sa.select(fingerprint.c.id, fingerprint.c.length, fingerprint.c.submission_count)
        .where(fingerprint.c.track_id == track_id)
        .order_by(fingerprint.c.id)
    )
    return [FingerprintSummary(r.id, r.length, r.submission_count) for r in rows]


def tracks_of_mbid(conn: Connection, mbid: uuid.UUID) -> list[LinkedTrack]:
    """Every track linked to ``mbid``, disabled links included (fingerprint connection), most
    submitted first."""
    rows = conn.execute(
        sa.select(track.c.id, track.c.gid, track_mbid.c.submission_count, track_mbid.c.disabled)
        .join(track, track.c.id == track_mbid.c.track_id)
        .where(track_mbid.c.mbid == mbid)
        .order_by(track_mbid.c.submission_count.desc(), track.c.id)
    )
    return [LinkedTrack(r.id, r.gid, r.submission_count, r.disabled) for r in rows]


def mbid_changes(conn: Connection, link_ids: Iterable[int], limit: int = 200) -> list[MbidChange]:
    """The changes of the given ``track_mbid`` links (ingest connection), newest first."""
    ids = sorted(set(link_ids))
    if not ids:
        return []
    c = track_mbid_change.c
    rows = conn.execute(
        sa.select(c.id, c.track_mbid_id, c.account_id, c.created, c.disabled, c.note)
        .where(c.track_mbid_id.in_(ids))
        .order_by(c.id.desc())
        .limit(limit)
    )
    return [
        MbidChange(r.id, r.track_mbid_id, r.account_id, utc(r.created), r.disabled, r.note)
        for r in rows
    ]


def account_names(conn: Connection, account_ids: Iterable[int]) -> dict[int, str]:
    """The name of each existing account among ``account_ids`` (app connection)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(account.c.id, account.c.name).where(account.c.id.in_(ids)))
    return {r.id: r.name for r in rows}


def toggle_mbid_link(
    conns: Connections,
    track_id: int,
    mbid: uuid.UUID,
    *,
    disabled: bool,
    account_id: int,
    note: str,
) -> ToggleOutcome:
    """Disable (or re-enable) the link between a track and an MBID, and record the change with
    its author and note, in the caller's write transaction (:meth:`Databases.write`).

    When the three roles share a database (``earmark serve``, and one PostgreSQL database) the
    link and its history commit together. Split across databases, the fingerprint side commits
    first, then the history (the order :meth:`Databases.write` documents).
    """
    row = conns.fingerprint.execute(
        sa.select(track_mbid.c.id, track_mbid.c.disabled)
        .where(track_mbid.c.track_id == track_id, track_mbid.c.mbid == mbid)
        .with_for_update()
    ).first()
    if row is None:
        return ToggleOutcome.NO_LINK
    if bool(row.disabled) == disabled:
        return ToggleOutcome.UNCHANGED
    now = dt.datetime.now(dt.UTC)
    links.set_mbid_disabled(conns.fingerprint, row.id, disabled)
    conns.ingest.execute(
        sa.insert(track_mbid_change).values(
            track_mbid_id=row.id,
            account_id=account_id,
            disabled=disabled,
            note=note[:NOTE_MAX] or None,
            created=now,
        )
    )
    return ToggleOutcome.CHANGED
