"""The catalog's full-text search index over the mirror: tracks, albums (releases), artists.

One index table per kind, in the mirror's database (the ``musicbrainz_schema`` on PostgreSQL):

* SQLite: an FTS5 table ``catalog_search_<kind>`` (``rowid`` = the entity's internal id),
  ranked with ``bm25`` (the title weighs 4 times the second column);
* PostgreSQL: a table ``catalog_search_<kind>`` with a ``tsvector`` (``simple`` configuration,
  title weight A, second column weight B) under a GIN index, ranked with ``ts_rank``.

Both hold *folded* text (:func:`fold`: case folded, accents and other marks removed, letters
such as ``ø``, ``æ``, ``ß`` spelled out in ASCII), and a query is folded the same way, so the
search is case- and accent-insensitive the same way on both databases ("Pølar" finds "polar"
and the reverse). Every query term matches as a prefix; all terms must match. Ties in rank are
broken by title, then MBID: the same query gives the same order.

The index is built from the mirror by :func:`build_index` (``earmark catalog index``; ``earmark
mb load-sample`` and ``earmark mb import`` build it too). It is a copy: after anything changes
the mirror's tracks, releases, artists or artist credits it must be rebuilt (or the changed
entities refreshed with :func:`refresh`).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz.schema import SCHEMA, MusicBrainzDatabase, execute, tables

KINDS = ("track", "album", "artist")
TABLE_PREFIX = "catalog_search_"
#: Rows per insert while building.
_BATCH = 5000

# Letters that Unicode does not decompose into a base letter and a mark.
_SPELLED = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "ẞ": "ss",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "ł": "l",
        "Ł": "l",
        "\u0131": "i",  # dotless i
        "ħ": "h",
        "Ħ": "h",
    }
)
_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """``text`` case folded, without accents and marks, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELLED))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.split(bare.casefold().translate(_SPELLED))).strip()


def terms(query: str) -> list[str]:
    """The folded words of a search query."""
    return fold(query).split()


def table_name(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown search kind {kind!r}")
    return TABLE_PREFIX + kind


def _schema_of(conn: Connection) -> str | None:
    """Where the connection finds the mirror's tables (None: SQLite, no schema)."""
    if conn.dialect.name == "sqlite":
        return None
    mapping = conn.get_execution_options().get("schema_translate_map") or {}
    found = mapping.get(SCHEMA, SCHEMA)
    return SCHEMA if found is None else str(found)


def _qualified(conn: Connection, kind: str) -> str:
    preparer = conn.dialect.identifier_preparer
    schema = _schema_of(conn)
    name = preparer.quote(table_name(kind))
    return name if schema is None else f"{preparer.quote_schema(schema)}.{name}"


# --- what is indexed ---------------------------------------------------------------------


def _sources(kind: str) -> sa.Select[Any]:
    """(internal id, title, second column) of every entity of ``kind``."""
    mb = tables()
    if kind == "artist":
        artist = mb.artist
        return sa.select(artist.c.id, artist.c.name, artist.c.sort_name).order_by(artist.c.id)
    credit = mb.artist_credit
    entity = mb.track if kind == "track" else mb.release
    return (
        sa.select(entity.c.id, entity.c.name, credit.c.name)
        .select_from(entity.outerjoin(credit, credit.c.id == entity.c.artist_credit))
        .order_by(entity.c.id)
    )


def _entity(kind: str) -> sa.Table:
    mb = tables()
    return {"track": mb.track, "album": mb.release, "artist": mb.artist}[kind]


def _folded_rows(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for row_id, title, other in rows:
        yield {"id": int(row_id), "title": fold(title or ""), "other": fold(other or "")}


# --- building ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexReport:
    rows: dict[str, int]


def build_index(
    database: MusicBrainzDatabase, progress: Callable[[str, int], None] | None = None
) -> IndexReport:
    """(Re)build every search table from the mirror, each in one transaction (readers see the
    old table until the new one is committed). ``progress(kind, rows)`` after each batch."""
    counts: dict[str, int] = {}
    for kind in KINDS:
        with database.write() as conn:
            _create(conn, kind)
            total = 0
            for batch in _batches(_folded_rows(execute(conn, _sources(kind))), _BATCH):
                _insert(conn, kind, batch)
                total += len(batch)
                if progress is not None:
                    progress(kind, total)
            _finish(conn, kind)
            counts[kind] = total
    return IndexReport(counts)


def refresh(conn: Connection, kind: str, ids: Sequence[int]) -> None:
    """Re-index the entities ``ids`` of ``kind`` (gone ones are dropped from the index)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    table = _qualified(conn, kind)
    key = "rowid" if conn.dialect.name == "sqlite" else "id"
    conn.execute(
        sa.text(f"DELETE FROM {table} WHERE {key} IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)
        ),
        {"ids": wanted},
    )
    entity = _entity(kind)
    rows = execute(conn, _sources(kind).where(entity.c.id.in_(wanted)))
    _insert(conn, kind, list(_folded_rows(rows)))


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _create(conn: Connection, kind: str) -> None:
    table = _qualified(conn, kind)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {table} USING fts5(title, other, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        conn.exec_driver_sql(
            f"CREATE TABLE {table} (id integer PRIMARY KEY, title text NOT NULL, "
            "other text NOT NULL, document tsvector NOT NULL)"
        )


def _insert(conn: Connection, kind: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = _qualified(conn, kind)
    if conn.dialect.name == "sqlite":
        statement = f"INSERT INTO {table} (rowid, title, other) VALUES (:id, :title, :other)"
    else:
        statement = (
            f"INSERT INTO {table} (id, title, other, document) VALUES (:id, :title, :other, "
            "setweight(to_tsvector('simple', :title), 'A') || "
            "setweight(to_tsvector('simple', :other), 'B'))"
        )
    conn.execute(sa.text(statement), rows)


def _finish(conn: Connection, kind: str) -> None:
    if conn.dialect.name == "sqlite":
        table = _qualified(conn, kind)
        conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        return
    preparer = conn.dialect.identifier_preparer
    index = preparer.quote(f"{table_name(kind)}_idx_document")
    conn.exec_driver_sql(f"CREATE INDEX {index} ON {_qualified(conn, kind)} USING GIN (document)")
    conn.exec_driver_sql(f"ANALYZE {_qualified(conn, kind)}")


def index_ready(conn: Connection) -> bool:
    """True when every search table exists."""
    names = set(sa.inspect(conn).get_table_names(schema=_schema_of(conn)))
    return all(table_name(kind) in names for kind in KINDS)


# --- searching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPage:
    """MBIDs of the matches in rank order (one page of them)."""

    mbids: tuple[str, ...]


def search(
    conn: Connection, kind: str, query_terms: Sequence[str], limit: int, offset: int
) -> SearchPage:
    """The page ``offset``..``offset + limit`` of the entities of ``kind`` matching every term
    (as a prefix), best first. ``query_terms`` come from :func:`terms` (word characters only)."""
    if not query_terms:
        return SearchPage(())
    table = _qualified(conn, kind)
    entity = _entity(kind)
    preparer = conn.dialect.identifier_preparer
    schema = _schema_of(conn)
    source = preparer.quote(entity.name)
    if schema is not None:
        source = f"{preparer.quote_schema(schema)}.{source}"
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if conn.dialect.name == "sqlite":
        params["q"] = " ".join(f'"{term}"*' for term in query_terms)
        bare = preparer.quote(table_name(kind))
        statement = (
            f"SELECT e.gid FROM {table} AS s JOIN {source} AS e ON e.id = s.rowid "
            f"WHERE {bare} MATCH :q "
            f"ORDER BY bm25({bare}, 4.0, 1.0), s.title, e.gid LIMIT :limit OFFSET :offset"
        )
    else:
        # The page is cut from the index alone (rank, then title, keeping the rows tied with
        # the last one: FETCH ... WITH TIES, PostgreSQL 13+), then joined to the entity for
        # the MBID tie-break. Joining first made the generic plan of `earmark run catalog`
        # (plan_cache_mode = force_generic_plan) hash-join the matches with a sequential scan
        # of the whole entity table: ≈80 ms per search at 100,000 recordings, linear in size.
        params["q"] = " & ".join(f"{term}:*" for term in query_terms)
        params["window"] = limit + offset
        statement = (
            "SELECT e.gid FROM (SELECT s.id, s.title, "
            "ts_rank(s.document, to_tsquery('simple', :q)) AS rank "
            f"FROM {table} AS s WHERE s.document @@ to_tsquery('simple', :q) "
            "ORDER BY rank DESC, s.title FETCH FIRST :window ROWS WITH TIES) AS top "
            f"JOIN {source} AS e ON e.id = top.id "
            "ORDER BY top.rank DESC, top.title, e.gid LIMIT :limit OFFSET :offset"
        )
    rows = conn.execute(sa.text(statement), params)
    return SearchPage(tuple(_gid_text(gid) for (gid,) in rows))


def _gid_text(value: Any) -> str:
    """A gid from a text statement: a UUID on PostgreSQL, 32 hex digits on SQLite."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
