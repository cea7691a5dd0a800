"""The catalog's Parquet export (``earmark catalog export-parquet DIR``), read by DuckDB.

What is written, one ``<table>.parquet`` file each (zstd, row groups of :data:`ROW_GROUP_ROWS`
rows, every column with min/max statistics):

* the mirror's tables the catalog's statements read, only the columns they use (found by
  walking the statements themselves, :func:`used_columns`), ``release_event`` (a view on the
  mirror) as a table, and ``replication_control`` (the ETag's sequence and /health);
* ``<kind>_gid`` (gid, id) for each entity an MBID is asked of, sorted by gid: the entity
  files are sorted by id (the joins), this copy lets a gid lookup read one row group;
* the search index as an inverted index: ``search_<kind>_token`` (token, id, title and other
  column counts) sorted by token, so a prefix is a range of row groups, ``search_<kind>_doc``
  (id, gid, folded title, token count) and ``search_stats`` (rows, tokens per kind): what
  SQLite FTS5's bm25 needs to rank the same way (:mod:`earmark.musicbrainz.columnar_read`).

Each file is sorted on its lookup keys (:data:`SORT_KEYS`) so the row groups' statistics let
DuckDB skip all but the few that hold the asked values. ``manifest.json`` is written last; the
whole export is written in a temporary directory next to ``DIR`` and renamed into place, so a
server never sees a half-written export.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import visitors

from earmark.musicbrainz import catalog_queries as q
from earmark.musicbrainz import catalog_search, statements
from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, qualified, tables

if TYPE_CHECKING:
    import pyarrow as pa

#: The export's layout version (manifest.json ``format``); the reader refuses others.
FORMAT = 1
MANIFEST = "manifest.json"
#: Rows per row group: a point lookup decodes one row group's column chunks (~32 K values,
#: tens to a few hundred KiB compressed), while a million-row table keeps ~30 row groups of
#: statistics to check.
ROW_GROUP_ROWS = 32_768
#: Entities the catalog takes MBIDs of (the ``<kind>_gid`` files).
GID_KINDS = ("track", "recording", "release", "release_group", "artist")
#: The order of each file: its lookup keys. Tables not listed are sorted by ``id``.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "track": ("recording", "id"),
    "medium": ("release", "position", "id"),
    "isrc": ("isrc", "recording"),
    "release_event": ("release", "date_year", "date_month", "date_day", "country"),
    "release_label": ("release", "id"),
    "artist_credit_name": ("artist_credit", "position"),
    "release_group_secondary_type_join": ("release_group", "secondary_type"),
    "iso_3166_1": ("area", "code"),
    **{f"{kind}_gid_redirect": ("gid",) for kind in GID_KINDS},
}
_BATCH = 10_000
#: The mirror table of each search kind (the index's ids are its ids).
_SEARCHED = {"track": "track", "album": "release", "artist": "artist"}


class ExportError(MusicBrainzError):
    """The Parquet export cannot be written."""


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    rows: dict[str, int]
    bytes: int


def _catalog_statements() -> list[Any]:
    dialect = statements.DUCKDB
    return [
        *(q.resolve(kind, dialect) for kind in GID_KINDS),
        q.isrc_recordings(dialect),
        q.barcode_releases(dialect),
        q.tracks(dialect),
        q.recordings(dialect),
        q.releases(dialect),
        q.release_groups(dialect),
        q.labels(dialect),
        q.artists(dialect),
        q.replication_state(),
        statements.release_events(dialect),
        statements.isrcs(dialect),
        statements.credits(dialect),
    ]


def used_columns() -> dict[str, list[str]]:
    """Mirror table → the columns the catalog's statements read (the ``<kind>_gid`` copies
    left out: they are built from their entity)."""
    mirror = {table.name for table in tables().base_tables()} | {"release_event"}
    used: dict[str, set[str]] = {}
    for statement in _catalog_statements():
        for element in visitors.iterate(statement):
            if isinstance(element, sa.ColumnClause) and element.table is not None:
                table: Any = getattr(element.table, "element", element.table)
                if table.name in mirror:
                    used.setdefault(str(table.name), set()).add(element.name)
    return {name: sorted(columns) for name, columns in sorted(used.items())}


def _arrow_type(column: sa.ColumnElement[Any]) -> pa.DataType:
    import pyarrow as pa

    kind = column.type
    if isinstance(kind, sa.Uuid):
        return pa.uuid()
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.SmallInteger):
        return pa.int16()
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int32()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    return pa.string()


def _value(arrow_type: pa.DataType, value: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if arrow_type == pa.uuid():
        return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).bytes
    if arrow_type == pa.timestamp("us"):
        # UTC without a zone: SQLite may hand the date back as text.
        found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return found.astimezone(UTC).replace(tzinfo=None) if found.tzinfo else found
    if arrow_type == pa.string():
        return str(value)
    return value


class _Writer:
    """One Parquet file, written in row groups of :data:`ROW_GROUP_ROWS` rows."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", compression_level=6)
        self.pending: list[tuple[Any, ...]] = []
        self.rows = 0

    def add(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for row in rows:
            self.pending.append(row)
            if len(self.pending) >= ROW_GROUP_ROWS:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self.pending:
            return
        columns = list(zip(*self.pending, strict=True))
        arrays = [
            pa.array([_value(f.type, v) for v in values], type=f.type)
            for f, values in zip(self.schema, columns, strict=True)
        ]
        self.writer.write_table(
            pa.Table.from_arrays(arrays, schema=self.schema), row_group_size=ROW_GROUP_ROWS
        )
        self.rows += len(self.pending)
        self.pending = []

    def close(self) -> int:
        self._flush()
        self.writer.close()
        return self.rows


def _write_rows(path: Path, schema: pa.Schema, rows: Iterable[tuple[Any, ...]]) -> int:
    writer = _Writer(path, schema)
    try:
        writer.add(rows)
    finally:
        count = writer.close()
    return count


def _stream(conn: Connection, statement: Any) -> Iterator[tuple[Any, ...]]:
    result = execute(conn.execution_options(stream_results=True), statement)
    for part in result.partitions(_BATCH):
        yield from (tuple(row) for row in part)


def _export_table(conn: Connection, name: str, columns: list[str], target: Path) -> int:
    import pyarrow as pa

    table = tables().release_event if name == "release_event" else tables().by_name()[name]
    chosen = [table.c[column] for column in columns]
    keys = SORT_KEYS.get(name, ("id",) if "id" in table.c else tuple(columns))
    statement = sa.select(*chosen).order_by(*(table.c[key] for key in keys))
    schema = pa.schema([(c.name, _arrow_type(c)) for c in chosen])
    return _write_rows(target / f"{name}.parquet", schema, _stream(conn, statement))


def _export_gids(conn: Connection, kind: str, target: Path) -> int:
    import pyarrow as pa

    entity: sa.Table = getattr(tables(), kind)
    statement = sa.select(entity.c.gid, entity.c.id).order_by(entity.c.gid)
    rows = sorted(_stream(conn, statement), key=lambda row: _uuid(row[0]))
    schema = pa.schema([("gid", pa.uuid()), ("id", pa.int32())])
    return _write_rows(target / f"{kind}_gid.parquet", schema, rows)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _search_rows(conn: Connection, kind: str) -> Iterator[tuple[int, str, str, Any]]:
    """(id, folded title, folded other, gid) of every entry of the mirror's search index."""
    index = qualified(conn, catalog_search.table_name(kind), _schema(conn))
    entity = qualified(conn, _SEARCHED[kind], _schema(conn))
    key = "rowid" if conn.dialect.name == "sqlite" else "id"
    statement = sa.text(
        f"SELECT s.{key}, s.title, s.other, e.gid FROM {index} AS s "
        f"JOIN {entity} AS e ON e.id = s.{key} ORDER BY s.{key}"
    )
    for row_id, title, other, gid in conn.execute(statement):
        yield int(row_id), title or "", other or "", gid


def _schema(conn: Connection) -> str:
    mapping = conn.get_execution_options().get("schema_translate_map") or {}
    found = mapping.get("musicbrainz", "musicbrainz")
    return "musicbrainz" if found is None else str(found)


def _export_search(conn: Connection, kind: str, target: Path) -> tuple[int, int, int]:
    """The inverted index of ``kind``: (documents, token rows, tokens in all documents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    doc_schema = pa.schema(
        [("id", pa.int32()), ("gid", pa.uuid()), ("title", pa.string()), ("length", pa.int32())]
    )
    token_schema = pa.schema(
        [
            ("token", pa.string()),
            ("id", pa.int32()),
            ("title_tf", pa.int16()),
            ("other_tf", pa.int16()),
        ]
    )
    # The postings as Arrow chunks (compact), sorted whole at the end.
    chunks: list[pa.Table] = []
    pending: dict[str, list[Any]] = {name: [] for name in token_schema.names}
    total = 0
    docs = _Writer(target / f"search_{kind}_doc.parquet", doc_schema)
    try:
        for row_id, title, other, gid in _search_rows(conn, kind):
            title_tokens, other_tokens = title.split(), other.split()
            length = len(title_tokens) + len(other_tokens)
            total += length
            docs.add([(row_id, _uuid(gid), title, length)])
            in_title, in_other = Counter(title_tokens), Counter(other_tokens)
            for token in sorted(set(in_title) | set(in_other)):
                pending["token"].append(token)
                pending["id"].append(row_id)
                pending["title_tf"].append(in_title[token])
                pending["other_tf"].append(in_other[token])
            if len(pending["id"]) >= ROW_GROUP_ROWS * 8:
                chunks.append(pa.Table.from_pydict(pending, schema=token_schema))
                pending = {name: [] for name in token_schema.names}
    finally:
        count = docs.close()
    chunks.append(pa.Table.from_pydict(pending, schema=token_schema))
    postings = pa.concat_tables(chunks).sort_by([("token", "ascending"), ("id", "ascending")])
    pq.write_table(
        postings,
        target / f"search_{kind}_token.parquet",
        compression="zstd",
        compression_level=6,
        row_group_size=ROW_GROUP_ROWS,
    )
    return count, postings.num_rows, total


def export(
    database: MusicBrainzDatabase,
    directory: Path,
    progress: Callable[[str, int], None] | None = None,
) -> ExportReport:
    """Write the export of ``database`` to ``directory`` (replacing a previous export there)."""
    directory = directory.absolute()
    _check_target(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        rows = _write_all(database, work, progress)
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(),
            "source": database.engine.dialect.name,
            "row_group_rows": ROW_GROUP_ROWS,
            "tables": rows,
        }
        # Last: a directory without it is not an export.
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _sync(work)
        _swap(work, directory)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = sum(path.stat().st_size for path in directory.iterdir())
    return ExportReport(directory, rows, size)


def _write_all(
    database: MusicBrainzDatabase, work: Path, progress: Callable[[str, int], None] | None
) -> dict[str, int]:
    rows: dict[str, int] = {}
    with _snapshot(database) as conn:
        if not catalog_search.index_ready(conn):
            raise ExportError("the mirror has no search index: run `earmark catalog index` first")
        for name, columns in used_columns().items():
            rows[name] = _export_table(conn, name, columns, work)
            if progress is not None:
                progress(name, rows[name])
        for kind in GID_KINDS:
            rows[f"{kind}_gid"] = _export_gids(conn, kind, work)
        stats: list[tuple[str, int, int]] = []
        for kind in catalog_search.KINDS:
            docs, postings, tokens = _export_search(conn, kind, work)
            rows[f"search_{kind}_doc"] = docs
            rows[f"search_{kind}_token"] = postings
            stats.append((kind, docs, tokens))
            if progress is not None:
                progress(f"search_{kind}", docs)
    import pyarrow as pa

    schema = pa.schema([("kind", pa.string()), ("rows", pa.int64()), ("tokens", pa.int64())])
    rows["search_stats"] = _write_rows(work / "search_stats.parquet", schema, stats)
    return rows


@contextmanager
def _snapshot(database: MusicBrainzDatabase) -> Iterator[Connection]:
    """A connection reading one state of the mirror: on PostgreSQL one repeatable-read
    transaction (replication may run meanwhile; its server-side cursors need one too)."""
    if database.engine.dialect.name == "sqlite":
        with database.read() as conn:
            yield conn
        return
    with database.engine.connect() as raw:
        conn = database.on(raw.execution_options(isolation_level="REPEATABLE READ"))
        with conn.begin():
            yield conn


def _check_target(directory: Path) -> None:
    """Refuse to replace anything but an earlier export (or an empty directory)."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise ExportError(f"{directory} exists and is not a directory")
    if any(directory.iterdir()) and not (directory / MANIFEST).is_file():
        raise ExportError(
            f"{directory} is neither empty nor an earlier export (no {MANIFEST}): not replaced"
        )


def _sync(work: Path) -> None:
    for path in work.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def _swap(work: Path, directory: Path) -> None:
    """``work`` becomes ``directory``; an earlier export there is removed after the rename."""
    if not directory.exists():
        os.rename(work, directory)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    os.rename(directory, old / "export")
    os.rename(work, directory)
    shutil.rmtree(old, ignore_errors=True)
