"""The catalog over its Parquet export (:mod:`earmark.musicbrainz.columnar`), read with DuckDB.

One in-memory DuckDB database holds a view per file in schema ``musicbrainz``; the catalog's
own statements (:mod:`earmark.musicbrainz.catalog_queries`, dialect ``duckdb``: compiled as
PostgreSQL, every list of values inline) run there unchanged, through the same
:func:`earmark.musicbrainz.catalog.load_with` as on the mirror. Nothing writes to it.

Search reads the inverted index of the export and ranks with SQLite FTS5's ``bm25`` (title
weight 4, second column 1, k1 = 1.2, b = 0.75, every term a prefix, all terms required), ties
broken by folded title then MBID: the answers of the SQL backend on SQLite. Each term is a
range of the token file (sorted by token), so a search reads the row groups holding its terms.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql

from earmark.musicbrainz import catalog_queries as q
from earmark.musicbrainz import catalog_search
from earmark.musicbrainz.catalog import (
    CatalogData,
    CatalogQuery,
    ReplicationState,
    load_with,
    replication_state_of,
)
from earmark.musicbrainz.catalog_search import SearchPage
from earmark.musicbrainz.catalog_store import CatalogReader, MirrorReadError
from earmark.musicbrainz.columnar import FORMAT, MANIFEST
from earmark.musicbrainz.schema import SCHEMA
from earmark.musicbrainz.statements import DUCKDB

if TYPE_CHECKING:
    import duckdb

#: The setting naming the export's directory (in the start-up errors).
SETTING = "catalog_parquet_dir"
# FTS5's bm25 constants (sqlite/ext/fts5/fts5_aux.c) and the catalog's column weights.
_K1 = 1.2
_B = 0.75
_TITLE_WEIGHT = 4
_OTHER_WEIGHT = 1
#: Above every character: ``prefix + _TOP`` bounds the tokens starting with ``prefix``.
_TOP = "\U0010ffff"


class ColumnarError(MirrorReadError):
    """The Parquet export cannot be served (missing, incomplete, damaged)."""


class _Compiled:
    """Statements compiled once for DuckDB (PostgreSQL's SQL, ``$n`` parameters)."""

    def __init__(self) -> None:
        self.dialect: Any = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        self.cache: dict[int, Any] = {}
        self.lock = threading.Lock()

    def text(self, statement: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
        with self.lock:
            found = self.cache.get(id(statement))
            if found is None:
                # The statement is kept with its compiled form: its id stays its own.
                compiled = statement.compile(dialect=self.dialect)
                found = self.cache[id(statement)] = (statement, compiled)
        state = found[1].construct_expanded_state(params)
        return state.statement, list(state.positional_parameters or ())


class ColumnarStore:
    """The export at ``directory``, checked at start-up (:func:`open_columnar`)."""

    def __init__(self, directory: Path, database: duckdb.DuckDBPyConnection) -> None:
        self.directory = directory
        self.database = database
        self.compiled = _Compiled()
        self.idle: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        #: Statements run (a test counts a batch's).
        self.statements = 0
        self._count_lock = threading.Lock()

    def read(self) -> AbstractContextManager[CatalogReader]:
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[CatalogReader]:
        try:
            cursor = self.idle.get_nowait()
        except queue.Empty:
            cursor = self.database.cursor()
        try:
            yield ColumnarReader(self, cursor)
        finally:
            self.idle.put(cursor)

    def counted(self) -> None:
        with self._count_lock:
            self.statements += 1

    def close(self) -> None:
        while True:
            try:
                self.idle.get_nowait().close()
            except queue.Empty:
                break
        self.database.close()


class ColumnarReader:
    """One request's reads (one DuckDB cursor, one thread)."""

    def __init__(self, store: ColumnarStore, cursor: duckdb.DuckDBPyConnection) -> None:
        self.store = store
        self.cursor = cursor

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        import duckdb

        self.store.counted()
        try:
            result = self.cursor.execute(sql, list(params))
            names = [column[0] for column in result.description or ()]
            return [_Row(names, row) for row in result.fetchall()]
        except duckdb.Error as exc:
            raise MirrorReadError(f"the Parquet export could not be read: {exc}") from None

    def _run(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        sql, positional = self.store.compiled.text(statement, params)
        return self._rows(sql, positional)

    def load(self, query: CatalogQuery, *, fixed: bool = False) -> CatalogData:
        return load_with(self._run, DUCKDB, query, fixed=fixed)

    def replication_state(self) -> ReplicationState:
        rows = self._run(q.replication_state(), {})
        return replication_state_of(rows[0] if rows else None)

    def ping(self) -> None:
        self._rows("SELECT 1", ())

    def index_ready(self) -> bool:
        """Always: an export holds its search index (checked at start-up)."""
        return True

    def search(self, kind: str, terms: Sequence[str], limit: int, offset: int) -> SearchPage:
        """As :func:`earmark.musicbrainz.catalog_search.search` on SQLite (see the module
        docstring): one statement over the token ranges of the terms."""
        catalog_search.table_name(kind)  # refuses unknown kinds
        if not terms:
            return SearchPage(())
        stats = self._rows(
            f"SELECT rows, tokens FROM {SCHEMA}.search_stats WHERE kind = $1", (kind,)
        )
        if not stats or not stats[0].rows:
            return SearchPage(())
        total_rows, total_tokens = int(stats[0].rows), int(stats[0].tokens)
        avgdl = float(total_tokens) / float(total_rows)
        token = f"{SCHEMA}.search_{kind}_token"
        params: list[Any] = []
        ctes = []
        for i, term in enumerate(terms):
            params += [term, term + _TOP]
            low, high = len(params) - 1, len(params)
            ctes.append(
                f"t{i} AS (SELECT id, CAST(sum(title_tf) * {_TITLE_WEIGHT} + "
                f"sum(other_tf) * {_OTHER_WEIGHT} AS DOUBLE) AS f FROM {token} "
                f"WHERE token >= ${low} AND token < ${high} GROUP BY id)"
            )
        counts = ", ".join(f"(SELECT count(*) FROM t{i}) AS n{i}" for i in range(len(terms)))
        joined = " ".join(f"JOIN t{i} ON t{i}.id = t0.id" for i in range(1, len(terms)))
        frequencies = ", ".join(f"t{i}.f AS f{i}" for i in range(len(terms)))
        # The hit counts first, the idf from them in Python (FTS5's arithmetic, in its order).
        hits = self._rows(f"WITH {', '.join(ctes)} SELECT {counts}", params)[0]
        idf = [_idf(total_rows, int(getattr(hits, f"n{i}"))) for i in range(len(terms))]
        params.append(avgdl)
        average = len(params)
        score = "0.0"
        for i in range(len(terms)):
            params.append(idf[i])
            weight = len(params)
            score = (
                f"({score} + ${weight}::DOUBLE * ((m.f{i} * ({_K1}::DOUBLE + 1.0::DOUBLE)) / "
                f"(m.f{i} + {_K1}::DOUBLE * (1.0::DOUBLE - {_B}::DOUBLE + {_B}::DOUBLE * "
                f"CAST(d.length AS DOUBLE) / ${average}::DOUBLE))))"
            )
        params += [limit, offset]
        sql = (
            f"WITH {', '.join(ctes)}, m AS (SELECT t0.id, {frequencies} FROM t0 {joined}) "
            f"SELECT d.gid FROM m JOIN {SCHEMA}.search_{kind}_doc AS d ON d.id = m.id "
            f"ORDER BY {score} DESC, d.title, d.gid "
            f"LIMIT ${len(params) - 1} OFFSET ${len(params)}"
        )
        rows = self._rows(sql, params)
        return SearchPage(tuple(str(row.gid) for row in rows))


def _idf(rows: int, hits: int) -> float:
    # fts5Bm25Function: log((nRow - nHit + 0.5) / (nHit + 0.5)), at least 1e-6.
    found = math.log((rows - hits + 0.5) / (hits + 0.5))
    return 1e-6 if found <= 0.0 else found


class _Row:
    """A row by position and by column label (as SQLAlchemy's rows)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: list[str], values: tuple[Any, ...]) -> None:
        self._names = names
        self._values = values

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._names.index(name)]
        except ValueError:
            raise AttributeError(name) from None


def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ColumnarError(
            f"{SETTING} = {str(directory)!r} is not a directory: write the export with "
            "`earmark catalog export-parquet DIR`"
        )
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ColumnarError(
            f"{SETTING} = {str(directory)!r} holds no Parquet export (no {MANIFEST}): write it "
            "with `earmark catalog export-parquet DIR`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ColumnarError(f"{SETTING}: {path} is unreadable ({exc})") from None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise ColumnarError(
            f"{SETTING}: {path} is not a format-{FORMAT} export: write it again with "
            "`earmark catalog export-parquet DIR`"
        )
    if not isinstance(found.get("tables"), dict) or not found["tables"]:
        raise ColumnarError(f"{SETTING}: {path} lists no tables")
    return found


def open_columnar(directory: str | Path, *, threads: int = 2) -> ColumnarStore:
    """The store of the export at ``directory``; a :class:`ColumnarError` naming the setting
    when it is missing, incomplete or a file is damaged (every file's footer is read)."""
    import duckdb

    if not str(directory).strip():
        raise ColumnarError(
            f"catalog_backend = duckdb needs {SETTING}: the directory written by "
            "`earmark catalog export-parquet DIR`"
        )
    path = Path(directory).absolute()
    manifest = _manifest(path)
    database = duckdb.connect(":memory:", config={"threads": threads})
    try:
        # The files do not change under a running server (an export replaces the directory
        # whole): their footers are read once, not at every statement.
        database.execute("SET parquet_metadata_cache = true")
        database.execute(f"CREATE SCHEMA {SCHEMA}")
        for name in sorted(manifest["tables"]):
            if not isinstance(name, str) or not name.isidentifier():
                raise ColumnarError(f"{SETTING}: {path / MANIFEST} names a table {name!r}")
            file = path / f"{name}.parquet"
            if not file.is_file():
                raise ColumnarError(f"{SETTING}: {file} is missing (the export is incomplete)")
            literal = str(file).replace("'", "''")
            database.execute(
                f"CREATE VIEW {SCHEMA}.{name} AS SELECT * FROM read_parquet('{literal}')"
            )
            # Reads the footer (and the first row group): a damaged file fails here.
            database.execute(f"SELECT * FROM {SCHEMA}.{name} LIMIT 1").fetchall()
        _check_complete(path, set(manifest["tables"]))
    except duckdb.Error as exc:
        database.close()
        raise ColumnarError(f"{SETTING}: the export at {path} is damaged ({exc})") from None
    except BaseException:
        database.close()
        raise
    return ColumnarStore(path, database)


def _check_complete(path: Path, found: set[str]) -> None:
    from earmark.musicbrainz.columnar import GID_KINDS, used_columns

    wanted = set(used_columns()) | {f"{kind}_gid" for kind in GID_KINDS} | {"search_stats"}
    for kind in catalog_search.KINDS:
        wanted |= {f"search_{kind}_doc", f"search_{kind}_token"}
    missing = sorted(wanted - found)
    if missing:
        raise ColumnarError(
            f"{SETTING}: the export at {path} lacks {', '.join(missing)}: write it again with "
            "`earmark catalog export-parquet DIR`"
        )
