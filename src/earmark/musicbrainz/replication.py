"""Applying MusicBrainz replication packets to the mirror's lookup subset (docs/musicbrainz.md).

The mirror is at ``replication_control.current_replication_sequence`` N; the next packet is
N + 1 and must be for the schema the mirror holds (``current_schema_sequence``), which must be
one Earmark's tables follow (:data:`SUPPORTED_SCHEMA_SEQUENCES`). Each packet is applied in ONE
transaction that also advances the sequence (and ``last_replication_date`` to the packet's
TIMESTAMP): a crash, a failing row or a broken packet leaves the mirror at N, and applying
again starts over from N + 1. A packet at or below N is skipped (already applied); one above
N + 1 is refused (a gap: packets cannot be skipped).

Rows of tables outside the subset are skipped. ``i`` inserts the new row, ``d`` deletes the row
whose key columns (``pending_keys``, else the table's primary key) equal the old row's, ``u``
updates that row's changed columns. An update or delete that finds no row is counted, not an
error (MusicBrainz's own applier does not check either).

After the changes, :func:`after_replication` runs in the same transaction with the names of the
tables that changed: the hook for derived data (a search index) that must follow the mirror.
The per-process metadata caches (``musicbrainz_cache_ttl``) are not told: they expire.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz import catalog_search, copytext
from earmark.musicbrainz.errors import ReplicationError
from earmark.musicbrainz.packet import Change, Packet, PacketLimits, read_packet
from earmark.musicbrainz.replication_source import PacketSource
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables

# The MusicBrainz schema of mbdata 31.0.1, whose models define the subset's tables.
SUPPORTED_SCHEMA_SEQUENCES = frozenset({31})
_INT64 = 1 << 63

T = TypeVar("T")


@dataclass(frozen=True)
class MirrorState:
    """Where the mirror is: ``replication_control``'s row (None values when it has none)."""

    schema_sequence: int | None
    replication_sequence: int | None
    last_replication_date: datetime | None


@dataclass
class AppliedPacket:
    """What applying one packet did (``applied`` False: it was already applied, skipped)."""

    sequence: int
    applied: bool
    rows: dict[str, int] = field(default_factory=dict)  # changes applied per table
    missed: int = 0  # updates and deletes that found no row
    skipped_rows: int = 0  # rows of tables outside the subset
    skipped_tables: set[str] = field(default_factory=set)

    def summary(self) -> str:
        if not self.applied:
            return f"packet {self.sequence}: already applied, skipped"
        return (
            f"packet {self.sequence}: {sum(self.rows.values())} changes in {len(self.rows)} "
            f"tables, {self.skipped_rows} rows of {len(self.skipped_tables)} other tables "
            f"skipped, {self.missed} updates/deletes found no row"
        )


@dataclass
class ReplicationRun:
    """The packets one :func:`replicate` applied and where the mirror is afterwards."""

    packets: list[AppliedPacket]
    state: MirrorState
    current: bool  # True: the next packet is not published yet


def after_replication(conn: Connection, changes: Sequence[Change]) -> None:
    """Called inside each packet's transaction, after its changes: the catalog's search index
    (when one was built) re-indexes the tracks, releases and artists the packet touched, and
    those whose artist credit it touched, in the same transaction. The lookups read the
    mirror's tables directly; the per-process metadata caches expire by their TTL."""
    if not changes or not catalog_search.index_ready(conn):
        return
    touched: dict[str, set[int]] = {kind: set() for kind in catalog_search.KINDS}
    credits: set[int] = set()
    for change in changes:
        kind = _SEARCHED.get(change.table)
        if kind is None and change.table != "artist_credit":
            continue
        for row in (change.old, change.new):
            row_id = _int(row.get("id")) if row else None
            if row_id is None:
                continue
            if kind is None:
                credits.add(row_id)
            else:
                touched[kind].add(row_id)
    if credits:
        mb = tables()
        for kind, entity in (("track", mb.track), ("album", mb.release)):
            credited = sa.select(entity.c.id).where(entity.c.artist_credit.in_(sorted(credits)))
            touched[kind].update(int(found) for found in execute(conn, credited).scalars())
    for kind, ids in touched.items():
        catalog_search.refresh(conn, kind, sorted(ids))


#: The mirror's tables whose rows the catalog's search index holds, by index kind.
_SEARCHED = {"track": "track", "release": "album", "artist": "artist"}


def _int(value: Any) -> int | None:
    """A row's id as a packet carries it (a JSON number in v2, text in v1)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def mirrored_tables() -> frozenset[str]:
    """The tables replication writes: the whole subset (``replication_control`` included)."""
    return frozenset(tables().by_name())


def read_state(conn: Connection, *, lock: bool = False) -> MirrorState:
    control = tables().replication_control
    query = sa.select(control).order_by(control.c.id).limit(1)
    row = execute(conn, query.with_for_update() if lock else query).first()
    if row is None:
        return MirrorState(None, None, None)
    value = row.last_replication_date
    if isinstance(value, str):  # SQLite may hand back the stored text
        value = copytext.parse_timestamp(value)
    elif value is not None:  # SQLite keeps no time zone: its values are UTC
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return MirrorState(row.current_schema_sequence, row.current_replication_sequence, value)


def _check_ready(state: MirrorState) -> int:
    if state.schema_sequence is None or state.replication_sequence is None:
        raise ReplicationError(
            "the mirror has no replication sequence (replication_control): load a MusicBrainz "
            "dump first (earmark mb import), replication continues from its sequence"
        )
    return state.replication_sequence


def _check_schema(state: MirrorState, packet: Packet) -> None:
    if packet.schema_sequence not in SUPPORTED_SCHEMA_SEQUENCES:
        known = ", ".join(str(n) for n in sorted(SUPPORTED_SCHEMA_SEQUENCES))
        raise ReplicationError(
            f"packet {packet.replication_sequence} is for MusicBrainz schema "
            f"{packet.schema_sequence}; this Earmark knows schema {known}: upgrade Earmark "
            "(and the mirror) before replicating further"
        )
    if packet.schema_sequence != state.schema_sequence:
        raise ReplicationError(
            f"packet {packet.replication_sequence} is for MusicBrainz schema "
            f"{packet.schema_sequence}, the mirror is at schema {state.schema_sequence}: a "
            "schema upgrade is needed (or a fresh import of a dump of the new schema)"
        )


def apply_packet(
    database: MusicBrainzDatabase, packet: Packet, *, expected: int | None = None
) -> AppliedPacket:
    """Apply ``packet`` in one transaction (see the module docstring).

    ``expected``: the sequence the caller asked for (a packet file holding another one is an
    error). Raises ReplicationError for a gap, another schema or a change that does not fit.
    """
    number = packet.replication_sequence
    if expected is not None and number != expected:
        raise ReplicationError(f"the file for packet {expected} holds packet {number}")
    with database.write() as conn:
        state = read_state(conn, lock=True)
        current = _check_ready(state)
        if number <= current:
            return AppliedPacket(number, applied=False)
        if number != current + 1:
            raise ReplicationError(
                f"packet {number} does not follow the mirror's sequence {current}: packets "
                f"{current + 1}..{number - 1} are missing (a gap); apply them first"
            )
        _check_schema(state, packet)
        _defer_foreign_keys(conn)
        result = AppliedPacket(
            number,
            applied=True,
            skipped_rows=packet.skipped_rows,
            skipped_tables=set(packet.skipped_tables),
        )
        by_name = tables().by_name()
        for change in packet.changes:
            try:
                found = _apply_change(conn, by_name[change.table], change, packet.keys)
            except sa.exc.DBAPIError as exc:
                raise ReplicationError(_where(packet, change, _first_line(exc))) from None
            except (ValueError, TypeError, OverflowError) as exc:
                raise ReplicationError(_where(packet, change, str(exc))) from None
            result.rows[change.table] = result.rows.get(change.table, 0) + 1
            result.missed += not found
        _advance(conn, packet)
        after_replication(conn, packet.changes)
    return result


def replicate(
    database: MusicBrainzDatabase,
    source: PacketSource,
    *,
    max_packets: int | None = None,
    limits: PacketLimits | None = None,
    on_packet: Callable[[AppliedPacket], None] | None = None,
) -> ReplicationRun:
    """Apply the source's packets from the mirror's next one until the source has no more
    (``current``) or ``max_packets`` were applied."""
    wanted = mirrored_tables()
    done: list[AppliedPacket] = []
    while True:
        with database.read() as conn:
            state = read_state(conn)
        if max_packets is not None and len(done) >= max_packets:
            return ReplicationRun(done, state, current=False)
        sequence = _check_ready(state) + 1
        with source.open(sequence) as stream:
            if stream is None:
                return ReplicationRun(done, state, current=True)
            packet = read_packet(stream, wanted, limits)
        applied = apply_packet(database, packet, expected=sequence)
        if not applied.applied:  # another applier got there first: ask the mirror again
            continue
        done.append(applied)
        if on_packet is not None:
            on_packet(applied)


def _where(packet: Packet, change: Change, message: str) -> str:
    return (
        f"packet {packet.replication_sequence}, seqid {change.seqid} "
        f"({change.op} {change.table}): {' '.join(message.split())}"
    )


def _first_line(exc: sa.exc.DBAPIError) -> str:
    text = str(exc.orig).strip() if exc.orig is not None else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _defer_foreign_keys(conn: Connection) -> None:
    # MusicBrainz applies each transaction with deferred constraints; rows of one transaction
    # may reference each other in either order. Both settings end with the transaction.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    else:
        conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")


def _advance(conn: Connection, packet: Packet) -> None:
    control = tables().replication_control
    values: dict[str, Any] = {"current_replication_sequence": packet.replication_sequence}
    if packet.timestamp is not None:
        values["last_replication_date"] = packet.timestamp
    first = sa.select(sa.func.min(control.c.id)).scalar_subquery()
    execute(conn, control.update().where(control.c.id == first).values(**values))


def _apply_change(
    conn: Connection, table: sa.Table, change: Change, keys: dict[str, tuple[str, ...]]
) -> bool:
    """Apply one change; False when an update or delete found no row."""
    if change.op == "i":
        assert change.new is not None
        execute(conn, table.insert().values(**_row(table, change.new, change.text)))
        return True
    assert change.old is not None
    old = _row(table, change.old, change.text)
    key_names = keys.get(table.name) or tuple(column.name for column in table.primary_key)
    if change.text:  # v1: the key row holds exactly the key columns
        key_names = tuple(name for name in change.old if name in table.c) or key_names
    missing = [name for name in key_names if name not in table.c or name not in old]
    if missing:
        raise ValueError(f"key columns {', '.join(missing)} missing from the row")
    condition = sa.and_(*(table.c[name] == old[name] for name in key_names))
    if change.op == "d":
        return execute(conn, table.delete().where(condition)).rowcount > 0
    assert change.new is not None
    new = _row(table, change.new, change.text)
    changed = {name: value for name, value in new.items() if name not in old or old[name] != value}
    if not changed:
        return True
    return execute(conn, table.update().where(condition).values(**changed)).rowcount > 0


def _row(table: sa.Table, values: dict[str, Any], text: bool) -> dict[str, Any]:
    """The values of the table's columns (others ignored) as SQLAlchemy binds them."""
    row: dict[str, Any] = {}
    for name, value in values.items():
        if name not in table.c:
            continue
        column = table.c[name]
        if value is None:
            row[name] = None
        elif text:
            row[name] = copytext.converter(column)(_expect(value, str, column))
        else:
            row[name] = _from_json(column, value)
    return row


def _from_json(column: sa.Column[Any], value: Any) -> Any:
    """A ``row_to_json`` value of a column as the Python value its type binds."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return _expect(value, bool, column)
    if isinstance(kind, sa.Integer):
        if isinstance(value, bool) or not isinstance(value, int) or not -_INT64 <= value < _INT64:
            raise ValueError(f"{column.table.name}.{column.name}: {value!r} is not an integer")
        return value
    if isinstance(kind, sa.Uuid):
        return uuid.UUID(_expect(value, str, column))
    if isinstance(kind, sa.DateTime):
        return copytext.parse_timestamp(_expect(value, str, column))
    if isinstance(kind, sa.String):
        return _expect(value, str, column)
    raise TypeError(f"no conversion for {column.table.name}.{column.name} ({kind})")


def _expect(value: Any, kind: type[T], column: sa.Column[Any]) -> T:
    if not isinstance(value, kind):
        raise ValueError(f"{column.table.name}.{column.name}: {value!r} is not a {kind.__name__}")
    return value
