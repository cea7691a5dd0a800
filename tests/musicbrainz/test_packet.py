"""Reading replication packets: the format, apply order, and hostile or broken packets."""

from __future__ import annotations

import bz2
import io
import tarfile
from pathlib import Path

import pytest

from earmark.musicbrainz.errors import PacketError
from earmark.musicbrainz.packet import (
    Change,
    Packet,
    PacketLimits,
    ordered,
    read_packet,
)
from earmark.musicbrainz.packet_fields import parse_table_name, parse_v1_data
from tests.musicbrainz.packets import Row, info, recording_row, tar_bytes, v1_members, v2_members

WANTED = frozenset({"recording", "replication_control", "isrc"})
INSERT = Row(
    "musicbrainz.recording", "i", new=recording_row(3, "0" * 8 + "-0000-4000-8000-" + "0" * 12, "x")
)


def _read(data: bytes, limits: PacketLimits | None = None) -> Packet:
    return read_packet(io.BytesIO(data), WANTED, limits)


def test_facts_and_kept_rows() -> None:
    packet = read_packet(
        io.BytesIO(
            tar_bytes(v2_members(1234, [INSERT, Row("musicbrainz.work", "d", old={"id": 1})]))
        ),
        WANTED,
    )
    assert packet.version == 2
    assert (packet.replication_sequence, packet.schema_sequence) == (1234, 31)
    assert packet.timestamp is not None
    assert packet.timestamp.year == 2026
    assert [(c.table, c.op) for c in packet.changes] == [
        ("recording", "i"),
        ("replication_control", "u"),
    ]
    assert packet.skipped_rows == 1
    assert packet.skipped_tables == {"musicbrainz.work"}
    assert packet.keys["recording"] == ("id",)


def test_transactions_apply_in_the_order_of_their_last_row() -> None:
    def change(seqid: int, xid: int) -> Change:
        return Change(seqid, xid, "recording", "d", {"id": seqid}, None)

    # xid 1 ends at seqid 5, after xid 2 (ends at 4): all of xid 2 goes first.
    found = ordered([change(1, 1), change(2, 2), change(3, 2), change(4, 2), change(5, 1)])
    assert [c.seqid for c in found] == [2, 3, 4, 1, 5]
    with pytest.raises(PacketError, match="seqid 1 appears twice"):
        ordered([change(1, 1), change(1, 2)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("musicbrainz.artist", ("musicbrainz", "artist")),
        ('"musicbrainz"."release_group"', ("musicbrainz", "release_group")),
        ('"artist"', ("musicbrainz", "artist")),
        ('"we""ird"."t.x"', ('we"ird', "t.x")),
    ],
)
def test_table_names(text: str, expected: tuple[str, str]) -> None:
    assert parse_table_name(text) == expected


@pytest.mark.parametrize("text", ["", ".", "a.b.c", '"open', '"a"x', "a..b"])
def test_bad_table_names(text: str) -> None:
    with pytest.raises(ValueError, match="bad table name"):
        parse_table_name(text)


def test_v1_data() -> None:
    assert parse_v1_data("\"id\"='1' \"name\"='It''s \\\\ ok' \"comment\" ") == {
        "id": "1",
        "name": "It's \\ ok",
        "comment": None,
    }
    with pytest.raises(ValueError, match="bad v1 data"):
        parse_v1_data("\"id\"='1' garbage")


def test_a_v1_packet_is_read() -> None:
    rows = [Row('"musicbrainz"."recording"', "d", old={"id": 2})]
    packet = read_packet(io.BytesIO(tar_bytes(v1_members(7, rows))), WANTED)
    assert packet.version == 1
    assert packet.changes == [Change(700, 1, "recording", "d", {"id": "2"}, None, text=True)]


def _without(members: dict[str, bytes], name: str) -> dict[str, bytes]:
    return {key: value for key, value in members.items() if key != name}


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (_without(v2_members(5, [INSERT]), "REPLICATION_SEQUENCE"), "no REPLICATION_SEQUENCE"),
        (_without(v2_members(5, [INSERT]), "SCHEMA_SEQUENCE"), "no SCHEMA_SEQUENCE"),
        (_without(v2_members(5, [INSERT]), "mbdump/pending_data"), "no mbdump/pending_data"),
        (_without(v1_members(5, [INSERT]), "mbdump/dbmirror_pendingdata"), "one of its two v1"),
        ({**v2_members(5, []), "REPLICATION_SEQUENCE": b"12a\n"}, "is not a number"),
        ({**v2_members(5, []), "SCHEMA_SEQUENCE": b"-1\n"}, "is not a number"),
        ({**v2_members(5, []), "TIMESTAMP": b"yesterday\n"}, "TIMESTAMP is not a time"),
        ({**v2_members(5, []), "DBMIRROR_VERSION": b"3\n"}, "DBMIRROR_VERSION '3'"),
        ({**v2_members(5, []), **v1_members(5, [])}, "mixes v1 and v2"),
        (
            {**v2_members(5, []), "mbdump/pending_data": b"1\tmusicbrainz.recording\ti\n"},
            "3 columns, expected 8",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"1\tmusicbrainz.recording\ti\t1\t\\N\t[1]\t\\N\t\\N\n",
            },
            "not a JSON object",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"1\tmusicbrainz.recording\ti\t1\t\\N\t{bad\t\\N\t\\N\n",
            },
            "line 1: Expecting",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"1\tmusicbrainz.recording\tx\t1\t\\N\t{}\t\\N\t\\N\n",
            },
            "unknown operation 'x'",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"1\tmusicbrainz.recording\tu\t1\t\\N\t{}\t\\N\t\\N\n",
            },
            "without the row data",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"x\tmusicbrainz.recording\td\t1\t{}\t\\N\t\\N\t\\N\n",
            },
            "invalid literal",
        ),
        (
            {**v2_members(5, []), "mbdump/pending_data": b"1\t\\N\td\t1\t{}\t\\N\t\\N\t\\N\n"},
            "tablename is NULL",
        ),
        (
            {
                **v2_members(5, []),
                "mbdump/pending_data": b"1\tmusicbrainz.\xff\xfe\td\t1\t{}\t\\N\t\\N\t\\N\n",
            },
            "can't decode|invalid",
        ),
        (
            {**v2_members(5, []), "mbdump/pending_keys": b"musicbrainz.recording\tid\n"},
            "not an array",
        ),
        (
            {**v2_members(5, []), "mbdump/pending_keys": b"musicbrainz.recording\t{id; drop}\n"},
            "bad key columns",
        ),
    ],
)
def test_broken_packets(members: dict[str, bytes], message: str) -> None:
    with pytest.raises(PacketError, match=message):
        _read(tar_bytes(members))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a packet at all",
        bz2.compress(b"not a tar archive" * 100),
        tar_bytes(v2_members(5, [INSERT]))[:-40],  # truncated
    ],
)
def test_corrupt_archives(data: bytes) -> None:
    with pytest.raises(PacketError, match=r"truncated|not a bzip2|no REPLICATION|no mbdump"):
        _read(data)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "mbdump/../../x", "a\\..\\b", "C:\\x"])
def test_hostile_member_names(name: str, tmp_path: Path) -> None:
    members = [*v2_members(5, []).items(), (name, b"boom")]
    with pytest.raises(PacketError, match="unsafe member name"):
        _read(tar_bytes(members))
    assert list(tmp_path.iterdir()) == []  # nothing is ever extracted


@pytest.mark.parametrize(
    "kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE]
)
def test_links_and_devices_are_refused(kind: bytes) -> None:
    def tweak(entry: tarfile.TarInfo) -> None:
        if entry.name == "mbdump/pending_data":
            entry.type = kind
            entry.linkname = "/etc/passwd"
            entry.size = 0

    with pytest.raises(PacketError, match="'mbdump/pending_data' is not a regular file"):
        _read(tar_bytes(v2_members(5, [INSERT]), tweak))


def test_a_member_twice_is_refused() -> None:
    members = list(v2_members(5, [INSERT]).items())
    with pytest.raises(PacketError, match="appears twice"):
        _read(tar_bytes([*members, members[-2]]))


@pytest.mark.parametrize(
    ("limits", "members", "message"),
    [
        (
            PacketLimits(member_bytes=100),
            v2_members(5, [INSERT]),
            "'mbdump/pending_data' is larger",
        ),
        (PacketLimits(), {**v2_members(5, []), "TIMESTAMP": b"1" * 5000}, "'TIMESTAMP' is larger"),
        (PacketLimits(packet_bytes=200), v2_members(5, [INSERT]), "the packet is larger"),
        (PacketLimits(line_bytes=50), v2_members(5, [INSERT]), "line 1: longer than the limit"),
        (PacketLimits(rows=1), v2_members(5, [INSERT]), "more than 1 rows"),
        (PacketLimits(members=3), v2_members(5, [INSERT]), "more than 3 members"),
    ],
)
def test_limits(limits: PacketLimits, members: dict[str, bytes], message: str) -> None:
    with pytest.raises(PacketError, match=message):
        _read(tar_bytes(members), limits)


def test_a_packet_of_other_tables_only_keeps_nothing() -> None:
    packet = read_packet(
        io.BytesIO(tar_bytes(v2_members(5, [INSERT], control=False))), frozenset({"isrc"})
    )
    assert packet.changes == []
    assert packet.skipped_tables == {"musicbrainz.recording"}
    assert info(5)["REPLICATION_SEQUENCE"] == b"5\n"
