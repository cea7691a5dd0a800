"""Replication packets in MusicBrainz's published layout, built from known row changes.

v2 (dbmirror2): ``mbdump/pending_data`` rows (seqid, tablename, op, xid, olddata, newdata,
oldctid, trgdepth) with the rows as ``row_to_json`` writes them, ``mbdump/pending_keys``; v1:
``mbdump/dbmirror_pending`` + ``mbdump/dbmirror_pendingdata``. Every packet also carries the
``replication_control`` update, as MusicBrainz's do. A small base mirror (two recordings by one
artist at replication sequence 1000, schema 31) is what the packets change.
"""

from __future__ import annotations

import bz2
import io
import json
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from earmark.musicbrainz import copytext
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables

BASE_SEQUENCE = 1000
SCHEMA_SEQUENCE = 31
BASE_DATE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ARTIST = "0a1b2c3d-0000-4000-8000-000000000001"
CREDIT = "0a1b2c3d-0000-4000-8000-000000000002"
SONG_ONE = "0a1b2c3d-0000-4000-8000-000000000011"
SONG_TWO = "0a1b2c3d-0000-4000-8000-000000000012"
SONG_THREE = "0a1b2c3d-0000-4000-8000-000000000013"


def recording_row(id: int, gid: str, name: str, length: int | None = 200000) -> dict[str, Any]:
    """A recording as row_to_json writes it (every column of the live schema, and more)."""
    return {
        "id": id,
        "gid": gid,
        "name": name,
        "artist_credit": 1,
        "length": length,
        "comment": "",
        "edits_pending": 0,
        "last_updated": "2026-05-16T01:02:03.456789+00:00",
        "video": False,
        "a_future_column": [1, 2],  # columns the subset's models lack are ignored
    }


def fill_base(database: MusicBrainzDatabase) -> None:
    """Empty the subset and load the base rows (one artist, two recordings, sequence 1000)."""
    mb = tables()
    with database.write() as conn:
        for table in reversed(mb.base_tables()):
            execute(conn, table.delete())
        execute(
            conn,
            mb.artist.insert().values(
                id=1, gid=uuid.UUID(ARTIST), name="Artist One", sort_name="One, Artist"
            ),
        )
        execute(
            conn,
            mb.artist_credit.insert().values(
                id=1, gid=uuid.UUID(CREDIT), name="Artist One", artist_count=1
            ),
        )
        execute(
            conn,
            mb.artist_credit_name.insert().values(
                artist_credit=1, position=0, artist=1, name="Artist One", join_phrase=""
            ),
        )
        for id, gid, name in ((1, SONG_ONE, "Song One"), (2, SONG_TWO, "Song Two")):
            execute(
                conn,
                mb.recording.insert().values(
                    id=id, gid=uuid.UUID(gid), name=name, artist_credit=1, length=200000
                ),
            )
        execute(
            conn,
            mb.replication_control.insert().values(
                id=1,
                current_schema_sequence=SCHEMA_SEQUENCE,
                current_replication_sequence=BASE_SEQUENCE,
                last_replication_date=BASE_DATE,
            ),
        )


@dataclass(frozen=True)
class Row:
    """One change: ``table`` may be schema-qualified and quoted, as in the packet."""

    table: str
    op: str
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    xid: int = 1


def timestamp(sequence: int) -> datetime:
    return datetime(2026, 5, 16, sequence % 24, 0, 1, 500000, tzinfo=UTC)


def control_row(sequence: int) -> Row:
    """The replication_control update every real packet carries."""

    def values(number: int) -> dict[str, Any]:
        return {
            "id": 1,
            "current_schema_sequence": SCHEMA_SEQUENCE,
            "current_replication_sequence": number,
            "last_replication_date": timestamp(number).isoformat(),
        }

    return Row("musicbrainz.replication_control", "u", values(sequence - 1), values(sequence))


def info(sequence: int, schema: int = SCHEMA_SEQUENCE, version: int = 2) -> dict[str, bytes]:
    stamp = copytext.escape(timestamp(sequence)).decode()
    return {
        "TIMESTAMP": f"{stamp}\n".encode(),
        "COPYING": b"CC0\n",
        "README": b"a replication packet\n",
        "REPLICATION_SEQUENCE": f"{sequence}\n".encode(),
        "SCHEMA_SEQUENCE": f"{schema}\n".encode(),
        "DBMIRROR_VERSION": f"{version}\n".encode(),
    }


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def v2_members(
    sequence: int,
    rows: list[Row],
    *,
    schema: int = SCHEMA_SEQUENCE,
    control: bool = True,
    keys: dict[str, str] | None = None,
) -> dict[str, bytes]:
    """The members of a v2 packet; ``keys``: pending_keys lines (table → ``{col,...}``)."""
    changes = [*rows, control_row(sequence)] if control else rows
    data = b"".join(
        copytext.format_line(
            [seqid, row.table, row.op, row.xid, _json(row.old), _json(row.new), None, None]
        )
        for seqid, row in enumerate(changes, start=sequence * 100)
    )
    key_lines = keys or {
        row.table: "{" + ",".join(_primary_key(row.table)) + "}" for row in changes
    }
    pending_keys = b"".join(copytext.format_line([t, k]) for t, k in key_lines.items())
    return {
        **info(sequence, schema),
        "mbdump/pending_data": data,
        "mbdump/pending_keys": pending_keys,
        "mbdump/pending_ts": copytext.format_line([1, timestamp(sequence)]),
    }


def _primary_key(qualified: str) -> list[str]:
    name = qualified.rpartition(".")[2].strip('"')
    found = tables().by_name().get(name)
    return [column.name for column in found.primary_key] if found is not None else ["id"]


def _v1_data(values: dict[str, Any]) -> str:
    def pair(name: str, value: Any) -> str:
        if value is None:
            return f'"{name}" '
        text = copytext.escape(value).decode() if not isinstance(value, str) else value
        return f"\"{name}\"='{text.replace(chr(92), chr(92) * 2).replace(chr(39), chr(39) * 2)}' "

    return "".join(pair(name, value) for name, value in values.items())


def v1_members(sequence: int, rows: list[Row]) -> dict[str, bytes]:
    """The members of a v1 packet (dbmirror): values as PostgreSQL text, keys in their own row."""
    pending, data = [], []
    for seqid, row in enumerate(rows, start=sequence * 100):
        pending.append(copytext.format_line([seqid, row.table, row.op, row.xid]))
        if row.old is not None:
            data.append(copytext.format_line([seqid, "t", _v1_data(row.old)]))
        if row.new is not None:
            data.append(copytext.format_line([seqid, "f", _v1_data(row.new)]))
    members = info(sequence, version=1)
    del members["DBMIRROR_VERSION"]
    return {
        **members,
        "mbdump/dbmirror_pending": b"".join(pending),
        "mbdump/dbmirror_pendingdata": b"".join(data),
    }


def tar_bytes(
    members: dict[str, bytes] | list[tuple[str, bytes]],
    tweak: Callable[[tarfile.TarInfo], None] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entries = list(members.items()) if isinstance(members, dict) else members
        for name, data in entries:
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            if tweak is not None:
                tweak(entry)
            tar.addfile(entry, io.BytesIO(data) if entry.isfile() else None)
    return bz2.compress(buffer.getvalue())


def write_packet(
    directory: Path, sequence: int, members: dict[str, bytes], *, v1: bool = False
) -> Path:
    name = f"replication-{sequence}.tar.bz2" if v1 else f"replication-{sequence}-v2.tar.bz2"
    path = directory / name
    path.write_bytes(tar_bytes(members))
    return path


def state(database: MusicBrainzDatabase) -> tuple[int | None, datetime | None]:
    """The mirror's replication sequence and date (UTC)."""
    from earmark.musicbrainz.replication import read_state

    with database.read() as conn:
        found = read_state(conn)
    when = found.last_replication_date
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return found.replication_sequence, when


def recordings(database: MusicBrainzDatabase) -> dict[str, tuple[str, int | None]]:
    """gid → (name, length) of every recording."""
    recording = tables().recording
    with database.read() as conn:
        query = sa.select(recording.c.gid, recording.c.name, recording.c.length)
        return {str(row.gid): (row.name, row.length) for row in execute(conn, query)}
