"""Applying replication packets to the mirror, on SQLite and on PostgreSQL.

Packets are built in the published layout (tests/musicbrainz/packets.py) from known row
changes; the mirror is checked afterwards, directly and through ``lookup_metadata``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from earmark.musicbrainz.catalog_search import build_index, search, terms
from earmark.musicbrainz.errors import PacketError, ReplicationError
from earmark.musicbrainz.metadata import lookup_metadata
from earmark.musicbrainz.packet import read_packet
from earmark.musicbrainz.replication import (
    AppliedPacket,
    apply_packet,
    mirrored_tables,
    replicate,
)
from earmark.musicbrainz.replication_source import DirectorySource
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables
from tests.musicbrainz.packets import (
    ARTIST,
    BASE_DATE,
    BASE_SEQUENCE,
    SONG_ONE,
    SONG_THREE,
    SONG_TWO,
    Row,
    fill_base,
    recording_row,
    recordings,
    state,
    tar_bytes,
    timestamp,
    v1_members,
    v2_members,
    write_packet,
)
from tests.services import PostgresDatabases, SqliteDatabases

ISRC = {"id": 7, "recording": 3, "isrc": "GBAAA2600001", "edits_pending": 0, "created": None}


@pytest.fixture(scope="module")
def sqlite_target(sqlite_databases: SqliteDatabases) -> Iterator[MusicBrainzDatabase]:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def postgresql_target(pg_databases: PostgresDatabases) -> Iterator[MusicBrainzDatabase]:
    database = MusicBrainzDatabase.from_url(pg_databases.create(migrated=False), "mb_repl")
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def mirror(request: pytest.FixtureRequest) -> MusicBrainzDatabase:
    """The base mirror (two recordings, sequence 1000), refilled for each test."""
    database: MusicBrainzDatabase = request.getfixturevalue(f"{request.param}_target")
    fill_base(database)
    return database


def _packet(members: dict[str, bytes]) -> bytes:
    return tar_bytes(members)


def _apply(mirror: MusicBrainzDatabase, members: dict[str, bytes]) -> AppliedPacket:
    packet = read_packet(io.BytesIO(tar_bytes(members)), mirrored_tables())
    return apply_packet(mirror, packet)


def _changes(tmp_path: Path) -> Path:
    """Packets 1001 (insert, update, delete, other tables) and 1002 (a merge)."""
    one = recording_row(1, SONG_ONE, "Song One")
    renamed = {**one, "name": "Song One (remastered)", "length": 201000}
    three = recording_row(3, SONG_THREE, "Song Three", length=None)
    first = [
        Row('"musicbrainz"."recording"', "i", new=three, xid=10),
        Row("musicbrainz.isrc", "i", new=ISRC, xid=10),
        Row("musicbrainz.recording", "u", old=one, new=renamed, xid=11),
        Row("musicbrainz.work", "i", new={"id": 5, "name": "A work"}, xid=11),
        Row("cover_art_archive.cover_art", "i", new={"id": 9}, xid=12),
        Row("musicbrainz.isrc", "d", old=ISRC, xid=13),
    ]
    # The merge of Song Two into Song One, as MusicBrainz replicates it.
    two = recording_row(2, SONG_TWO, "Song Two")
    redirect = {"gid": SONG_TWO, "new_id": 1, "created": "2026-05-16T02:00:00+00:00"}
    merge = [
        Row("musicbrainz.recording_gid_redirect", "i", new=redirect, xid=20),
        Row("musicbrainz.recording", "d", old=two, xid=20),
    ]
    write_packet(tmp_path, 1001, v2_members(1001, first))
    write_packet(tmp_path, 1002, v2_members(1002, merge))
    return tmp_path


def test_insert_update_delete_and_merge(mirror: MusicBrainzDatabase, tmp_path: Path) -> None:
    seen: list[int] = []
    run = replicate(
        mirror, DirectorySource(_changes(tmp_path)), on_packet=lambda p: seen.append(p.sequence)
    )
    assert run.current
    assert seen == [1001, 1002]
    first, second = run.packets
    assert first.rows == {"recording": 2, "isrc": 2, "replication_control": 1}
    assert first.skipped_rows == 2
    assert first.skipped_tables == {"musicbrainz.work", "cover_art_archive.cover_art"}
    assert second.rows == {"recording_gid_redirect": 1, "recording": 1, "replication_control": 1}
    assert recordings(mirror) == {
        SONG_ONE: ("Song One (remastered)", 201000),
        SONG_THREE: ("Song Three", None),
    }
    assert state(mirror) == (1002, timestamp(1002))
    assert run.state.replication_sequence == 1002
    with mirror.read() as conn:
        assert execute(conn, sa.select(sa.func.count()).select_from(tables().isrc)).scalar() == 0
        found = lookup_metadata(conn, [SONG_TWO, SONG_THREE])
    # The merged MBID now resolves to the recording it was merged into.
    assert found.redirects == {SONG_TWO: SONG_ONE}
    assert found.recordings[SONG_ONE].title == "Song One (remastered)"
    assert found.recordings[SONG_THREE].title == "Song Three"
    assert found.missing == ()


def test_a_repeated_packet_is_skipped(mirror: MusicBrainzDatabase, tmp_path: Path) -> None:
    members = v2_members(
        1001, [Row("musicbrainz.recording", "i", new=recording_row(3, SONG_THREE, "x"))]
    )
    assert _apply(mirror, members).applied
    again = _apply(mirror, members)
    assert not again.applied
    assert "already applied" in again.summary()
    assert state(mirror)[0] == 1001
    assert len(recordings(mirror)) == 3
    # The directory source starts after the mirror's sequence: nothing to do.
    write_packet(tmp_path, 1001, members)
    run = replicate(mirror, DirectorySource(tmp_path))
    assert run.packets == []
    assert run.current


def test_a_gap_is_refused(mirror: MusicBrainzDatabase, tmp_path: Path) -> None:
    members = v2_members(
        1002, [Row("musicbrainz.recording", "i", new=recording_row(3, SONG_THREE, "x"))]
    )
    with pytest.raises(ReplicationError, match=r"packets 1001\.\.1001 are missing \(a gap\)"):
        _apply(mirror, members)
    write_packet(tmp_path, 1002, members)
    with pytest.raises(ReplicationError, match="packet 1001 is missing but packet 1002"):
        replicate(mirror, DirectorySource(tmp_path))
    assert state(mirror) == (BASE_SEQUENCE, BASE_DATE)
    assert len(recordings(mirror)) == 2


def test_a_file_holding_another_packet_is_refused(
    mirror: MusicBrainzDatabase, tmp_path: Path
) -> None:
    (tmp_path / "replication-1001-v2.tar.bz2").write_bytes(_packet(v2_members(1000, [])))
    with pytest.raises(ReplicationError, match="the file for packet 1001 holds packet 1000"):
        replicate(mirror, DirectorySource(tmp_path))


@pytest.mark.parametrize(
    ("packet_schema", "mirror_schema", "message"),
    [
        (32, 31, "this Earmark knows schema 31"),
        (31, 30, "the mirror is at schema 30: a schema upgrade is needed"),
    ],
)
def test_an_unknown_schema_is_refused(
    mirror: MusicBrainzDatabase, packet_schema: int, mirror_schema: int, message: str
) -> None:
    control = tables().replication_control
    with mirror.write() as conn:
        execute(conn, control.update().values(current_schema_sequence=mirror_schema))
    with pytest.raises(ReplicationError, match=message):
        _apply(mirror, v2_members(1001, [], schema=packet_schema))
    assert state(mirror)[0] == BASE_SEQUENCE


def test_a_failing_row_rolls_the_packet_back(mirror: MusicBrainzDatabase) -> None:
    rows = [
        Row("musicbrainz.recording", "i", new=recording_row(3, SONG_THREE, "Song Three")),
        Row(
            "musicbrainz.recording",
            "u",
            old=recording_row(1, SONG_ONE, "Song One"),
            new=recording_row(1, SONG_ONE, "Renamed"),
        ),
        # The crash: a second row with the primary key of the first (the packet is broken).
        Row("musicbrainz.recording", "i", new=recording_row(3, str(uuid.uuid4()), "Clash")),
    ]
    with pytest.raises(ReplicationError, match=r"packet 1001, seqid 100102 \(i recording\)"):
        _apply(mirror, v2_members(1001, rows))
    assert state(mirror) == (BASE_SEQUENCE, BASE_DATE)
    assert recordings(mirror)[SONG_ONE][0] == "Song One"
    assert SONG_THREE not in recordings(mirror)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            Row(
                "musicbrainz.recording",
                "i",
                new={**recording_row(3, SONG_THREE, "x"), "length": "long"},
            ),
            "recording.length: 'long' is not an integer",
        ),
        (
            Row(
                "musicbrainz.recording",
                "i",
                new={**recording_row(3, SONG_THREE, "x"), "gid": "nope"},
            ),
            "badly formed hexadecimal UUID string",
        ),
        (
            Row(
                "musicbrainz.recording", "i", new={**recording_row(3, SONG_THREE, "x"), "video": 1}
            ),
            "recording.video: 1 is not a bool",
        ),
        (
            Row(
                "musicbrainz.recording",
                "i",
                new={**recording_row(3, SONG_THREE, "x"), "id": 1 << 70},
            ),
            "is not an integer",
        ),
        (Row("musicbrainz.recording", "d", old={"name": "no key"}), "key columns id missing"),
        (
            Row(
                "musicbrainz.recording",
                "i",
                new={**recording_row(3, SONG_THREE, "x"), "name": None},
            ),
            r"packet 1001, seqid 100100 \(i recording\)",
        ),
    ],
)
def test_rows_that_do_not_fit_are_refused(
    mirror: MusicBrainzDatabase, row: Row, message: str
) -> None:
    with pytest.raises(ReplicationError, match=message):
        _apply(mirror, v2_members(1001, [row]))
    assert state(mirror)[0] == BASE_SEQUENCE


def test_missing_rows_and_unchanged_updates_are_counted_not_fatal(
    mirror: MusicBrainzDatabase,
) -> None:
    ghost = recording_row(99, str(uuid.uuid4()), "Ghost")
    one = recording_row(1, SONG_ONE, "Song One")
    rows = [
        Row("musicbrainz.recording", "d", old=ghost),
        Row("musicbrainz.recording", "u", old=ghost, new={**ghost, "name": "Still a ghost"}),
        Row("musicbrainz.recording", "u", old=one, new=dict(one)),
    ]
    applied = _apply(mirror, v2_members(1001, rows))
    assert applied.missed == 2
    assert state(mirror)[0] == 1001


def test_pending_keys_name_the_key_columns(mirror: MusicBrainzDatabase) -> None:
    # Deleted by gid: pending_keys says so, the primary key (id) is not in the old row.
    rows = [Row("musicbrainz.recording", "d", old={"gid": SONG_TWO})]
    keys = {
        "musicbrainz.recording": "{gid}",
        "musicbrainz.replication_control": "{id}",
        "musicbrainz.work": "{id}",
    }
    _apply(mirror, v2_members(1001, rows, keys=keys))
    assert set(recordings(mirror)) == {SONG_ONE}


def test_a_v1_packet(mirror: MusicBrainzDatabase, tmp_path: Path) -> None:
    control = {
        "id": 1,
        "current_schema_sequence": 31,
        "current_replication_sequence": 1001,
        "last_replication_date": timestamp(1001),
    }
    rows = [
        Row(
            '"musicbrainz"."recording"',
            "i",
            new={
                "id": 3,
                "gid": SONG_THREE,
                "name": "It's \\ three",
                "artist_credit": 1,
                "length": None,
                "comment": "",
                "edits_pending": 0,
                "video": False,
                "last_updated": timestamp(1001),
            },
        ),
        Row(
            '"musicbrainz"."recording"',
            "u",
            old={"id": 1},
            new={
                "id": 1,
                "gid": SONG_ONE,
                "name": "One, v1",
                "artist_credit": 1,
                "length": 5,
            },
        ),
        Row('"musicbrainz"."recording"', "d", old={"id": 2}),
        Row('"musicbrainz"."work"', "i", new={"id": 1, "name": "w"}),
        Row('"musicbrainz"."replication_control"', "u", old={"id": 1}, new=control),
    ]
    write_packet(tmp_path, 1001, v1_members(1001, rows), v1=True)
    run = replicate(mirror, DirectorySource(tmp_path))
    assert [p.sequence for p in run.packets] == [1001]
    assert run.packets[0].skipped_tables == {"musicbrainz.work"}
    assert recordings(mirror) == {SONG_ONE: ("One, v1", 5), SONG_THREE: ("It's \\ three", None)}
    assert state(mirror) == (1001, timestamp(1001))


def test_a_corrupt_packet_leaves_the_mirror_alone(
    mirror: MusicBrainzDatabase, tmp_path: Path
) -> None:
    good = _packet(v2_members(1001, [Row("musicbrainz.recording", "d", old={"id": 2})]))
    (tmp_path / "replication-1001-v2.tar.bz2").write_bytes(good[: len(good) // 2])
    with pytest.raises(PacketError, match=r"truncated|not a bzip2"):
        replicate(mirror, DirectorySource(tmp_path))
    assert state(mirror) == (BASE_SEQUENCE, BASE_DATE)
    assert len(recordings(mirror)) == 2


def test_a_mirror_without_a_sequence_is_refused(
    mirror: MusicBrainzDatabase, tmp_path: Path
) -> None:
    with mirror.write() as conn:
        execute(conn, tables().replication_control.delete())
    with pytest.raises(ReplicationError, match="load a MusicBrainz dump first"):
        replicate(mirror, DirectorySource(tmp_path))


def test_once_applies_one_packet(mirror: MusicBrainzDatabase, tmp_path: Path) -> None:
    run = replicate(mirror, DirectorySource(_changes(tmp_path)), max_packets=1)
    assert [p.sequence for p in run.packets] == [1001]
    assert not run.current
    assert state(mirror)[0] == 1001


def test_the_catalog_search_index_follows_the_packets(
    mirror: MusicBrainzDatabase, tmp_path: Path
) -> None:
    build_index(mirror)
    artist = {"id": 1, "gid": ARTIST, "name": "Artist One", "sort_name": "One, Artist"}
    renamed = {**artist, "name": "Sigur Rós", "sort_name": "Sigur Rós"}
    added = {"id": 2, "gid": str(uuid.uuid4()), "name": "Björk", "sort_name": "Björk"}
    rows = [
        Row("musicbrainz.artist", "u", old=artist, new=renamed, xid=30),
        Row("musicbrainz.artist", "i", new=added, xid=31),
    ]
    write_packet(tmp_path, 1001, v2_members(1001, rows))
    replicate(mirror, DirectorySource(tmp_path))

    def found(query: str) -> tuple[str, ...]:
        with mirror.read() as conn:
            return search(conn, "artist", terms(query), 10, 0).mbids

    assert found("sigur ros") == (ARTIST,)
    assert found("artist one") == ()
    assert found("bjork") == (added["gid"],)
