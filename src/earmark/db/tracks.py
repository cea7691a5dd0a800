"""Named data functions of the ``track`` table (fingerprint database).

A track groups fingerprints of one recording; its public id is ``gid``. When tracks are merged
the old one points at the survivor through ``new_id``; merges keep chains flat, so readers
follow ``new_id`` one level (reference §3.2, §8.5).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db.tables import fingerprint, track, track_mbid, track_puid
from earmark.db.types import Int32Array, fast_fingerprint


@dataclass(frozen=True, slots=True)
class Track:
    id: int
    gid: uuid.UUID
    #: The track asked for was merged into this one (its id and gid are the survivor's).
    merged: bool = False


@dataclass(frozen=True, slots=True)
class TrackFingerprint:
    id: int
    length: int
    items: Int32Array


@dataclass(frozen=True, slots=True)
class MbidTrack:
    """One track linked to an MBID (``/v2/track/list_by_mbid``)."""

    track_id: int
    gid: uuid.UUID
    disabled: bool


def insert(conn: Connection) -> Track:
    """A new track with a random (uuid4) gid."""
    gid = uuid.uuid4()
    new_id = conn.execute(sa.insert(track).values(gid=gid).returning(track.c.id)).scalar_one()
    return Track(int(new_id), gid)


def _resolve(conn: Connection, where: sa.ColumnElement[bool]) -> Track | None:
    survivor = track.alias("survivor")
    row = conn.execute(
        sa.select(
            track.c.id, track.c.gid, survivor.c.id.label("new_id"), survivor.c.gid.label("new_gid")
        )
        .outerjoin(survivor, survivor.c.id == track.c.new_id)
        .where(where)
    ).first()
    if row is None:
        return None
    if row.new_id is not None:
        return Track(row.new_id, row.new_gid, merged=True)
    return Track(row.id, row.gid)


def get(conn: Connection, track_id: int) -> Track | None:
    """The track ``track_id``, or the track it was merged into."""
    return _resolve(conn, track.c.id == track_id)


def get_by_gid(conn: Connection, gid: uuid.UUID) -> Track | None:
    """The track with ``gid``, or the track it was merged into."""
    return _resolve(conn, track.c.gid == gid)


def fingerprints(conn: Connection, track_id: int) -> list[TrackFingerprint]:
    """Every fingerprint of a track with its length and items, in id order (the items in
    PostgreSQL's binary array form: the importer reads this for every candidate track)."""
    items = fast_fingerprint(fingerprint.c.fingerprint, conn.dialect.name)
    rows = conn.execute(
        sa.select(fingerprint.c.id, fingerprint.c.length, items)
        .where(fingerprint.c.track_id == track_id)
        .order_by(fingerprint.c.id)
    ).all()
    return [TrackFingerprint(r.id, r.length, r.fingerprint) for r in rows]


def fingerprint_ids(conn: Connection, track_id: int) -> list[int]:
    rows = conn.execute(
        sa.select(fingerprint.c.id)
        .where(fingerprint.c.track_id == track_id)
        .order_by(fingerprint.c.id)
    ).scalars()
    return [int(i) for i in rows]


def list_by_mbid(
    conn: Connection, mbids: Iterable[uuid.UUID], include_disabled: bool
) -> dict[uuid.UUID, list[MbidTrack]]:
    """The tracks linked to each MBID (every asked MBID is a key), in track id order.

    Disabled links are left out unless ``include_disabled``; then they carry ``disabled``.
    """
    asked = list(dict.fromkeys(mbids))
    result: dict[uuid.UUID, list[MbidTrack]] = {mbid: [] for mbid in asked}
    if not asked:
        return result
    query = (
        sa.select(track_mbid.c.mbid, track.c.id, track.c.gid, track_mbid.c.disabled)
        .join(track, track.c.id == track_mbid.c.track_id)
        .where(track_mbid.c.mbid.in_(asked))
        .order_by(track_mbid.c.mbid, track.c.id)
    )
    if not include_disabled:
        query = query.where(sa.not_(track_mbid.c.disabled))
    for row in conn.execute(query):
        result[row.mbid].append(MbidTrack(row.id, row.gid, row.disabled))
    return result


def count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(track)).scalar_one())


def list_by_puid(conn: Connection, puid: uuid.UUID) -> list[Track]:
    """The tracks linked to a PUID, in track id order (``/v2/track/list_by_puid``).

    The reference answers nothing here (its PUID data is retired, §5.2); Earmark keeps the
    PUID links that submissions carry, so it can answer them.
    """
    rows = conn.execute(
        sa.select(track.c.id, track.c.gid)
        .join(track_puid, track_puid.c.track_id == track.c.id)
        .where(track_puid.c.puid == puid)
        .order_by(track.c.id)
    ).all()
    return [Track(int(r.id), r.gid) for r in rows]


def get_many_by_gid(conn: Connection, gids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Track]:
    """The track of each existing gid, or the track it was merged into; unknown gids are left
    out. One statement for a whole batch of ``trackid`` lookups (up to 100 per request)."""
    asked = list(dict.fromkeys(gids))
    if not asked:
        return {}
    survivor = track.alias("survivor")
    rows = conn.execute(
        sa.select(
            track.c.id, track.c.gid, survivor.c.id.label("new_id"), survivor.c.gid.label("new_gid")
        )
        .outerjoin(survivor, survivor.c.id == track.c.new_id)
        .where(track.c.gid.in_(asked))
    ).all()
    found: dict[uuid.UUID, Track] = {}
    for row in rows:
        if row.new_id is not None:
            found[row.gid] = Track(row.new_id, row.new_gid, merged=True)
        else:
            found[row.gid] = Track(row.id, row.gid)
    return found
