"""Reading a MusicBrainz replication packet (``replication-<N>-v2.tar.bz2`` or the older v1).

Layout and row formats: ../shared/reference/musicbrainz-replication.md. A packet is a bzip2 tar
of ``TIMESTAMP``, ``REPLICATION_SEQUENCE``, ``SCHEMA_SEQUENCE`` (and other notes) followed by the
pending changes in PostgreSQL COPY text (:mod:`earmark.musicbrainz.copytext`):

- v2 (dbmirror2): ``mbdump/pending_data`` (seqid, tablename, op, xid, olddata json, newdata
  json, oldctid, trgdepth) and ``mbdump/pending_keys`` (tablename, keys text[]);
- v1 (dbmirror): ``mbdump/dbmirror_pending`` (seqid, tablename, op, xid) and
  ``mbdump/dbmirror_pendingdata`` (seqid, iskey, data as ``"col"='value' `` pairs), named
  ``mbdump/Pending`` and ``mbdump/PendingData`` in the oldest packets.

Every packet is hostile input: it is read as a stream (nothing is extracted, member names are
never used as paths), members must be regular files with safe relative names, each member and
the compressed packet are bounded in size (:class:`PacketLimits`), so are lines and the rows
kept. Only the rows of the tables asked for are kept (the rest are counted), then ordered as
MusicBrainz applies them: transactions (xid) by their largest seqid, rows within one by seqid.
"""

from __future__ import annotations

import bz2
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any

from earmark.musicbrainz import copytext
from earmark.musicbrainz.errors import PacketError
from earmark.musicbrainz.packet_fields import SCHEMA, parse_table_name, parse_v1_data, text_array

INFO_FILES = ("TIMESTAMP", "REPLICATION_SEQUENCE", "SCHEMA_SEQUENCE", "DBMIRROR_VERSION")
V2_DATA, V2_KEYS = "mbdump/pending_data", "mbdump/pending_keys"
V1_NAMES = {
    "mbdump/dbmirror_pending": "pending",
    "mbdump/dbmirror_pendingdata": "data",
    "mbdump/Pending": "pending",
    "mbdump/PendingData": "data",
}

_NUMBER = re.compile(rb"\d{1,18}\n?")


@dataclass(frozen=True)
class PacketLimits:
    """Bounds on what one packet may make Earmark read and hold (raise PacketError beyond)."""

    packet_bytes: int = 1 << 30  # compressed; hourly packets are usually a few MB
    member_bytes: int = 4 << 30  # one uncompressed member
    line_bytes: int = 16 << 20  # one row of a change file
    rows: int = 5_000_000  # rows of the mirrored tables kept in memory
    members: int = 64


@dataclass(frozen=True, slots=True)
class Change:
    """One row change. v2 values are JSON values; v1 values are PostgreSQL text (``text``)."""

    seqid: int
    xid: int
    table: str  # in schema musicbrainz
    op: str  # "i", "u" or "d"
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    text: bool = False


@dataclass
class Packet:
    """A packet's facts and its changes to the kept tables, in the order to apply them."""

    version: int
    replication_sequence: int
    schema_sequence: int
    timestamp: datetime | None
    changes: list[Change]
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # v2: pending_keys
    skipped_rows: int = 0
    skipped_tables: set[str] = field(default_factory=set)


class _Bounded(io.RawIOBase):
    """The compressed stream, refusing to read past ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise PacketError("the packet is larger than the limit")
        buffer[: len(data)] = data
        return len(data)


class _Reader:
    def __init__(self, wanted: frozenset[str], limits: PacketLimits) -> None:
        self.wanted = wanted
        self.limits = limits
        self.info: dict[str, str] = {}
        self.kept: list[Change] = []
        self.keys: dict[str, tuple[str, ...]] = {}
        self.skipped_rows = 0
        self.skipped_tables: set[str] = set()
        self.v1_pending: list[tuple[int, str, str, int]] = []
        self.v1_data: dict[tuple[int, bool], dict[str, str | None]] = {}
        self.seen: set[str] = set()

    def lines(self, stream: IO[bytes], name: str) -> Iterator[tuple[int, list[bytes | None]]]:
        number = 0
        while raw := stream.readline(self.limits.line_bytes + 1):
            number += 1
            if len(raw) > self.limits.line_bytes:
                raise PacketError(f"{name} line {number}: longer than the limit")
            line = raw.removesuffix(b"\n")
            if line == copytext.END_OF_DATA:
                return
            yield number, copytext.split_line(line)

    def keep(self, change: Change) -> None:
        if len(self.kept) >= self.limits.rows:
            raise PacketError(f"more than {self.limits.rows} rows of mirrored tables")
        self.kept.append(change)

    def table_of(self, text: str) -> str | None:
        """The musicbrainz table a row is for when it is kept; None (and counted) otherwise."""
        schema, table = parse_table_name(text)
        if schema == SCHEMA and table in self.wanted:
            return table
        self.skipped_rows += 1
        self.skipped_tables.add(f"{schema}.{table}")
        return None

    def read_v2_data(self, stream: IO[bytes]) -> None:
        for number, fields in self.lines(stream, V2_DATA):
            where = f"{V2_DATA} line {number}"
            if len(fields) != 8:
                raise PacketError(f"{where}: {len(fields)} columns, expected 8")
            try:
                seqid, name, op, xid, old, new = (_text(value) for value in fields[:6])
                table = self.table_of(_required(name, "tablename"))
                if table is None:
                    continue
                change = Change(
                    int(_required(seqid, "seqid")),
                    int(_required(xid, "xid")),
                    table,
                    _required(op, "op"),
                    _json_row(old),
                    _json_row(new),
                )
            except (ValueError, UnicodeDecodeError) as exc:
                raise PacketError(f"{where}: {exc}") from None
            self.keep(_checked(change, where))

    def read_v2_keys(self, stream: IO[bytes]) -> None:
        for number, fields in self.lines(stream, V2_KEYS):
            try:
                if len(fields) != 2:
                    raise ValueError(f"{len(fields)} columns, expected 2")
                schema, table = parse_table_name(_required(_text(fields[0]), "tablename"))
                keys = text_array(_required(_text(fields[1]), "keys"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise PacketError(f"{V2_KEYS} line {number}: {exc}") from None
            if schema == SCHEMA:
                self.keys[table] = keys

    def read_v1(self, stream: IO[bytes], name: str, kind: str) -> None:
        for number, fields in self.lines(stream, name):
            try:
                values = [_text(value) for value in fields]
                if kind == "pending":
                    if len(values) != 4:
                        raise ValueError(f"{len(values)} columns, expected 4")
                    seqid, table, op, xid = (_required(v, "column") for v in values)
                    self.v1_pending.append((int(seqid), table, op, int(xid)))
                else:
                    if len(values) != 3:
                        raise ValueError(f"{len(values)} columns, expected 3")
                    seqid, is_key, data = (_required(v, "column") for v in values)
                    if len(self.v1_data) >= 2 * self.limits.rows:
                        raise PacketError(f"more than {2 * self.limits.rows} v1 data rows")
                    self.v1_data[(int(seqid), is_key in ("t", "true"))] = parse_v1_data(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise PacketError(f"{name} line {number}: {exc}") from None
            if len(self.v1_pending) > 2 * self.limits.rows:
                raise PacketError(f"more than {2 * self.limits.rows} v1 changes")

    def v1_changes(self) -> None:
        for seqid, name, op, xid in self.v1_pending:
            try:
                table = self.table_of(name)
            except ValueError as exc:
                raise PacketError(f"v1 change {seqid}: {exc}") from None
            if table is None:
                continue
            keys, data = self.v1_data.get((seqid, True)), self.v1_data.get((seqid, False))
            where = f"v1 change {seqid}"
            if op == "u" and data is not None and keys is None:
                raise PacketError(f"{where}: an update without its key values")
            # An insert carries only its data row, a delete only its key row.
            old = None if op == "i" else keys
            new = None if op == "d" else data
            change = Change(seqid, xid, table, op, old, new, text=True)
            self.keep(_checked(change, where))


def read_packet(
    stream: IO[bytes], wanted: frozenset[str], limits: PacketLimits | None = None
) -> Packet:
    """Read the packet in ``stream`` (bzip2 tar), keeping the changes of the ``wanted`` tables
    of schema musicbrainz. Raises PacketError for anything unreadable, incomplete or unsafe."""
    limits = limits or PacketLimits()
    reader = _Reader(wanted, limits)
    try:
        with (
            bz2.BZ2File(_Bounded(stream, limits.packet_bytes)) as unpacked,
            tarfile.open(fileobj=unpacked, mode="r|") as tar,
        ):
            for member in tar:
                _read_member(reader, tar, member)
    except EOFError as exc:
        raise PacketError(f"the packet is truncated ({exc})") from None
    except (tarfile.TarError, OSError) as exc:
        raise PacketError(f"not a bzip2-compressed tar archive ({exc})") from None
    return _packet(reader)


def _read_member(reader: _Reader, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        raise PacketError(f"unsafe member name {name!r}")
    if member.isdir():
        return
    if not member.isfile():
        raise PacketError(f"member {name!r} is not a regular file")
    if name in reader.seen:
        raise PacketError(f"member {name!r} appears twice")
    reader.seen.add(name)
    if len(reader.seen) > reader.limits.members:
        raise PacketError(f"more than {reader.limits.members} members")
    limit = 4096 if name in INFO_FILES else reader.limits.member_bytes
    if member.size > limit:
        raise PacketError(f"member {name!r} is larger than the limit ({member.size} bytes)")
    stream = tar.extractfile(member)
    assert stream is not None  # a regular file always has data
    if name in INFO_FILES:
        reader.info[name] = stream.read(limit).decode("utf-8", errors="replace")
    elif name == V2_DATA:
        reader.read_v2_data(stream)
    elif name == V2_KEYS:
        reader.read_v2_keys(stream)
    elif name in V1_NAMES:
        reader.read_v1(stream, name, V1_NAMES[name])
    # Anything else (COPYING, README, pending_ts, ...) is skipped unread.


def _packet(reader: _Reader) -> Packet:
    v2 = V2_DATA in reader.seen
    v1 = any(name in reader.seen for name in V1_NAMES)
    if v1 and v2:
        raise PacketError("the packet mixes v1 and v2 change files")
    version = reader.info.get("DBMIRROR_VERSION", "1\n" if v1 else "2\n").strip()
    if version not in ("1", "2") or (version == "2") != v2:
        missing = V2_DATA if version == "2" else "mbdump/dbmirror_pending"
        raise PacketError(f"the packet has no {missing} (DBMIRROR_VERSION {version!r})")
    if v1:
        if not {"pending", "data"} <= {V1_NAMES[name] for name in reader.seen & V1_NAMES.keys()}:
            raise PacketError("the packet lacks one of its two v1 change files")
        reader.v1_changes()
    replication = _number(reader.info, "REPLICATION_SEQUENCE")
    schema = _number(reader.info, "SCHEMA_SEQUENCE")
    timestamp = None
    if "TIMESTAMP" in reader.info:
        try:
            timestamp = copytext.parse_timestamp(reader.info["TIMESTAMP"].strip())
        except ValueError:
            raise PacketError(f"TIMESTAMP is not a time: {reader.info['TIMESTAMP']!r}") from None
    return Packet(
        version=int(version),
        replication_sequence=replication,
        schema_sequence=schema,
        timestamp=timestamp,
        changes=ordered(reader.kept),
        keys=reader.keys,
        skipped_rows=reader.skipped_rows,
        skipped_tables=reader.skipped_tables,
    )


def ordered(changes: list[Change]) -> list[Change]:
    """Transactions in the order of their largest seqid, rows within each by seqid."""
    last: dict[int, int] = {}
    seen: set[int] = set()
    for change in changes:
        if change.seqid in seen:
            raise PacketError(f"seqid {change.seqid} appears twice")
        seen.add(change.seqid)
        last[change.xid] = max(last.get(change.xid, change.seqid), change.seqid)
    return sorted(changes, key=lambda change: (last[change.xid], change.seqid))


def _number(info: dict[str, str], name: str) -> int:
    if name not in info:
        raise PacketError(f"the packet has no {name}")
    text = info[name].encode()
    if not _NUMBER.fullmatch(text):
        raise PacketError(f"{name} is not a number: {info[name][:40]!r}")
    return int(text)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8")


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise ValueError(f"{name} is NULL")
    return value


def _json_row(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("row data is not a JSON object")
    return value


def _checked(change: Change, where: str) -> Change:
    needs = {"i": (False, True), "u": (True, True), "d": (True, False)}.get(change.op)
    if needs is None:
        raise PacketError(f"{where}: unknown operation {change.op!r}")
    if needs != (change.old is not None, change.new is not None):
        raise PacketError(f"{where}: operation {change.op!r} without the row data it needs")
    return change
