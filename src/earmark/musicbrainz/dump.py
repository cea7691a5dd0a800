"""Loading the subset straight from a MusicBrainz full export (``mbdump.tar.bz2``).

The archive is read as a stream (``tarfile`` mode ``r|``, no seeking, nothing extracted to
disk) behind :class:`bz2.BZ2File`, which unlike tarfile's own ``r|bz2`` also reads archives made
of several bzip2 streams (parallel compressors write those). Members ``mbdump/<table>`` of the
subset's tables are loaded, every other member is skipped; ``SCHEMA_SEQUENCE``,
``REPLICATION_SEQUENCE`` and ``TIMESTAMP`` fill ``replication_control`` when the archive has no
row for it. The table files are PostgreSQL COPY text (:mod:`earmark.musicbrainz.copytext`): on
PostgreSQL they go to the server through psycopg's COPY as they are; on SQLite they are parsed
and inserted in batches.

The whole import is one transaction: a broken archive leaves the database as it was. Foreign
keys are checked once at the end, because the archive's member order (alphabetical) puts
children before parents: on PostgreSQL the subset's foreign-key constraints are dropped and
added back (which validates them) inside the transaction; SQLite defers its checks to the end.
The import refuses to run when a subset table already holds rows.
"""

from __future__ import annotations

import bz2
import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from earmark.db.engine import is_sqlite
from earmark.musicbrainz import copytext
from earmark.musicbrainz.errors import DumpError
from earmark.musicbrainz.schema import SCHEMA, analyze, execute, qualified, tables, transaction

BATCH_ROWS = 5000
CHUNK_BYTES = 1 << 20
INFO_FILES = ("SCHEMA_SEQUENCE", "REPLICATION_SEQUENCE", "TIMESTAMP")
MAX_INFO_BYTES = 4096

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """Rows loaded per table, members skipped, and the archive's replication facts."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    info: dict[str, str] = field(default_factory=dict)

    @property
    def schema_sequence(self) -> int | None:
        text = self.info.get("SCHEMA_SEQUENCE", "")
        return int(text) if text.isdigit() else None


class _CountingReader(io.RawIOBase):
    """Reports the compressed bytes read (for a progress bar on the archive's size)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self.raw = raw
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.progress is not None and data:
            self.progress(len(data))
        return len(data)


def import_dump(
    engine: Engine,
    path: Path,
    *,
    schema_name: str = SCHEMA,
    progress: Progress | None = None,
) -> ImportReport:
    """Load the subset's tables from the archive at ``path`` into empty tables (one transaction).

    Raises DumpError for an unreadable, truncated or unsafe archive, a table file that does not
    match the schema, broken foreign keys, or tables that already hold rows.
    """
    mb = tables()
    wanted = mb.by_name()
    report = ImportReport()
    with transaction(engine, schema_name) as conn:
        refuse_filled_tables(conn)
        restore = _suspend_foreign_keys(conn, schema_name)
        try:
            with (
                path.open("rb") as raw,
                bz2.BZ2File(_CountingReader(raw, progress)) as unpacked,
                _open_stream(unpacked, path) as tar,
            ):
                for member in _members(tar, path):
                    table_name = _table_of(member.name)
                    if table_name in INFO_FILES and member.isfile():
                        report.info[table_name] = _read_info(tar, member)
                    elif table_name in wanted and member.name == f"mbdump/{table_name}":
                        if table_name in report.rows:
                            raise DumpError(f"{path}: {member.name} appears twice")
                        if not member.isfile():
                            raise DumpError(f"{path}: {member.name} is not a regular file")
                        stream = tar.extractfile(member)
                        assert stream is not None  # a regular file always has data
                        report.rows[table_name] = _load_table(
                            conn, wanted[table_name], stream, schema_name
                        )
                    else:
                        report.skipped += 1
        except EOFError as exc:
            raise DumpError(f"{path}: the archive is truncated ({exc})") from None
        except (tarfile.TarError, OSError) as exc:
            raise DumpError(f"{path}: cannot read the archive ({exc})") from None
        if not report.rows:
            raise DumpError(f"{path}: no MusicBrainz table of the subset found (mbdump/<table>)")
        if "replication_control" not in report.rows:
            _replication_control_from_info(conn, report)
        restore()
    analyze(engine, schema_name)  # the planner's statistics of the new rows, once committed
    return report


def _open_stream(unpacked: IO[bytes], path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=unpacked, mode="r|")
    except EOFError as exc:
        raise DumpError(f"{path}: the archive is truncated ({exc})") from None
    except (tarfile.TarError, OSError) as exc:
        raise DumpError(f"{path}: not a bzip2-compressed tar archive ({exc})") from None


def _members(tar: tarfile.TarFile, path: Path) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or "\\" in member.name:
            raise DumpError(f"{path}: unsafe member path {member.name!r}")
        yield member


def _table_of(member_name: str) -> str:
    name = PurePosixPath(member_name)
    if len(name.parts) == 1:
        return name.parts[0]  # top-level files: SCHEMA_SEQUENCE, TIMESTAMP, ...
    return name.parts[-1] if name.parts[0] == "mbdump" else ""


def _read_info(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    stream = tar.extractfile(member)
    data = stream.read(MAX_INFO_BYTES) if stream is not None else b""
    return data.decode("utf-8", errors="replace").strip()


def filled_tables(conn: Connection) -> list[str]:
    """The subset's tables that already hold rows (an import needs none)."""
    return sorted(
        name
        for name, table in tables().by_name().items()
        if execute(conn, sa.select(sa.literal(1)).select_from(table).limit(1)).first()
    )


def refuse_filled_tables(conn: Connection) -> None:
    filled = filled_tables(conn)
    if filled:
        raise DumpError(
            f"the MusicBrainz tables already hold rows ({', '.join(filled)}); "
            "import into an empty database"
        )


def _suspend_foreign_keys(conn: Connection, schema_name: str) -> Callable[[], None]:
    """Stop checking foreign keys row by row; the returned function checks them all."""
    if is_sqlite(conn):
        # Reset by the commit; violations are reported by foreign_key_check before it.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        return lambda: _check_sqlite_foreign_keys(conn)
    # The constraints as the database has them (a mirror made elsewhere may have none), dropped
    # and re-created as plain DDL: SQLAlchemy's constraint DDL objects would change the shared
    # mbdata Table objects.
    inspector = sa.inspect(conn)
    preparer = conn.dialect.identifier_preparer
    keys = [
        (table.name, key)
        for table in tables().base_tables()
        for key in inspector.get_foreign_keys(table.name, schema=schema_name)
        if key["name"]
    ]
    for table_name, key in keys:
        conn.exec_driver_sql(
            f"ALTER TABLE {qualified(conn, table_name, schema_name)} "
            f"DROP CONSTRAINT {preparer.quote(str(key['name']))}"
        )

    def restore() -> None:
        for table_name, key in keys:
            try:
                conn.exec_driver_sql(_add_foreign_key(conn, table_name, key, schema_name))
            except sa.exc.IntegrityError as exc:
                raise DumpError(f"broken foreign key {key['name']}: {_first_line(exc)}") from None

    return restore


def _add_foreign_key(conn: Connection, table_name: str, key: Any, schema_name: str) -> str:
    quote = conn.dialect.identifier_preparer.quote
    own = ", ".join(quote(column) for column in key["constrained_columns"])
    referred = ", ".join(quote(column) for column in key["referred_columns"])
    target = qualified(conn, key["referred_table"], key.get("referred_schema") or schema_name)
    options = key.get("options") or {}
    clauses = [
        f"{label} {options[option].upper()}"
        for option, label in (("ondelete", "ON DELETE"), ("onupdate", "ON UPDATE"))
        if options.get(option)
    ]
    if options.get("deferrable"):
        clauses.append("DEFERRABLE")
    if options.get("initially"):
        clauses.append(f"INITIALLY {options['initially'].upper()}")
    return (
        f"ALTER TABLE {qualified(conn, table_name, schema_name)} "
        f"ADD CONSTRAINT {quote(str(key['name']))} FOREIGN KEY ({own}) "
        f"REFERENCES {target} ({referred}) {' '.join(clauses)}"
    ).rstrip()


def _check_sqlite_foreign_keys(conn: Connection) -> None:
    for table in tables().base_tables():
        broken = conn.exec_driver_sql(f"PRAGMA foreign_key_check({table.name})").first()
        if broken is not None:
            raise DumpError(
                f"broken foreign key: {broken[0]} row {broken[1]} points at a missing "
                f"{broken[2]} row"
            )


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def _load_table(conn: Connection, table: sa.Table, stream: IO[bytes], schema_name: str) -> int:
    try:
        if is_sqlite(conn):
            return _insert_lines(conn, table, stream)
        return _copy_postgresql(conn, table, stream, schema_name)
    except sa.exc.DBAPIError as exc:
        raise DumpError(f"mbdump/{table.name}: {_first_line(exc)}") from None


def _copy_postgresql(conn: Connection, table: sa.Table, stream: IO[bytes], schema_name: str) -> int:
    import psycopg

    columns = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in table.columns)
    statement = f"COPY {qualified(conn, table.name, schema_name)} ({columns}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    lines = 0
    last = b"\n"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            while chunk := stream.read(CHUNK_BYTES):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                copy.write(chunk)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DumpError(f"mbdump/{table.name}: {message}") from None
    return lines + (last != b"\n")


def _insert_lines(conn: Connection, table: sa.Table, stream: IO[bytes]) -> int:
    names = [column.name for column in table.columns]
    converters = [copytext.converter(column) for column in table.columns]
    batch: list[dict[str, Any]] = []
    count = 0
    for number, raw in enumerate(stream, start=1):
        line = raw.removesuffix(b"\n")
        if line == copytext.END_OF_DATA:
            break
        fields = copytext.split_line(line)
        if len(fields) != len(names):
            raise DumpError(
                f"mbdump/{table.name} line {number}: {len(fields)} columns, "
                f"the table has {len(names)}"
            )
        try:
            batch.append(copytext.row_values(fields, names, converters))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DumpError(f"mbdump/{table.name} line {number}: {exc}") from None
        count += 1
        if len(batch) >= BATCH_ROWS:
            execute(conn, table.insert(), batch)
            batch = []
    if batch:
        execute(conn, table.insert(), batch)
    return count


def _replication_control_from_info(conn: Connection, report: ImportReport) -> None:
    control = tables().replication_control
    sequence = report.schema_sequence
    if sequence is None or execute(conn, sa.select(control.c.id).limit(1)).first():
        return
    replication = report.info.get("REPLICATION_SEQUENCE", "")
    timestamp: datetime | None
    try:
        timestamp = copytext.parse_timestamp(report.info["TIMESTAMP"])
    except (KeyError, ValueError):
        timestamp = None
    execute(
        conn,
        control.insert().values(
            id=1,
            current_schema_sequence=sequence,
            current_replication_sequence=int(replication) if replication.isdigit() else None,
            last_replication_date=timestamp,
        ),
    )
    report.rows["replication_control"] = 1
