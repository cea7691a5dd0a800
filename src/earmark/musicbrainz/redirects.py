"""Merged and vanished recording MBIDs, for the background MBID maintenance (reference §10).

The cron task merges an AcoustID link whose MBID MusicBrainz merged into another recording
(:func:`resolve_redirects`), leaves alone MBIDs that still exist (:func:`existing_recordings`),
and disables links to MBIDs unknown for 7 days of MusicBrainz replication time
(:func:`last_replication_date` is that clock). MBIDs are lowercase dashed strings both ways.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz.metadata import normalize_mbid
from earmark.musicbrainz.schema import execute, tables

# Keeps each statement's parameter list well under the drivers' limits.
_CHUNK = 500


def _chunks(mbids: Sequence[str]) -> Iterator[list[uuid.UUID]]:
    keys = sorted({uuid.UUID(normalize_mbid(mbid)) for mbid in mbids})
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def resolve_redirects(conn: Connection, mbids: Sequence[str]) -> dict[str, str]:
    """Old MBID → the MBID of the recording it was merged into, for those that were merged.

    MusicBrainz keeps merge chains flat (a redirect always points at a live recording), so one
    step is enough. MBIDs that were not merged are not in the answer.
    """
    mb = tables()
    redirect, recording = mb.recording_gid_redirect, mb.recording
    found: dict[str, str] = {}
    for chunk in _chunks(mbids):
        query = (
            sa.select(redirect.c.gid, recording.c.gid.label("new_gid"))
            .select_from(redirect.join(recording, recording.c.id == redirect.c.new_id))
            .where(redirect.c.gid.in_(chunk))
        )
        for row in execute(conn, query):
            found[str(row.gid)] = str(row.new_gid)
    return found


def existing_recordings(conn: Connection, mbids: Sequence[str]) -> set[str]:
    """The MBIDs that are (still) recordings in MusicBrainz."""
    recording = tables().recording
    found: set[str] = set()
    for chunk in _chunks(mbids):
        query = sa.select(recording.c.gid).where(recording.c.gid.in_(chunk))
        found.update(str(gid) for gid in execute(conn, query).scalars())
    return found


def last_replication_date(conn: Connection) -> datetime | None:
    """When the mirror last applied a replication packet (MusicBrainz time), in UTC.

    None when the mirror has no replication_control row or no date in it. SQLite keeps no time
    zone: its values are taken as UTC, which is what ``earmark mb import`` writes.
    """
    control = tables().replication_control
    query = sa.select(sa.func.max(control.c.last_replication_date))
    value = execute(conn, query).scalar()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's max() hands back the stored text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
