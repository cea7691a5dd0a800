"""Rows of the MusicBrainz mirror the MBID maintenance reads: recordings, redirects, the clock."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables

ARTIST_CREDIT = 1


def add_artist_credit(conn: Connection) -> None:
    execute(
        conn,
        sa.insert(tables().artist_credit).values(
            id=ARTIST_CREDIT, name="Someone", artist_count=1, gid=uuid.uuid4()
        ),
    )


def add_recording(mirror: MusicBrainzDatabase, gid: str) -> int:
    recording = tables().recording
    with mirror.write() as conn:
        next_id = execute(conn, sa.select(sa.func.coalesce(sa.func.max(recording.c.id), 0) + 1))
        new_id = int(next_id.scalar_one())
        execute(
            conn,
            sa.insert(recording).values(
                id=new_id, gid=uuid.UUID(gid), name=f"Recording {new_id}", artist_credit=1
            ),
        )
    return new_id


def add_redirect(mirror: MusicBrainzDatabase, old: str, new: str) -> None:
    """MusicBrainz merged recording ``old`` into ``new`` (created if missing)."""
    recording = tables().recording
    with mirror.read() as conn:
        found = execute(
            conn, sa.select(recording.c.id).where(recording.c.gid == uuid.UUID(new))
        ).scalar()
    new_id = int(found) if found is not None else add_recording(mirror, new)
    with mirror.write() as conn:
        execute(
            conn,
            sa.insert(tables().recording_gid_redirect).values(gid=uuid.UUID(old), new_id=new_id),
        )


def set_replication_date(mirror: MusicBrainzDatabase, when: dt.datetime) -> None:
    control = tables().replication_control
    with mirror.write() as conn:
        execute(conn, sa.delete(control))
        execute(
            conn,
            sa.insert(control).values(
                id=1,
                current_schema_sequence=30,
                current_replication_sequence=1,
                last_replication_date=when,
            ),
        )
