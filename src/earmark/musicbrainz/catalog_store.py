"""Where the catalog API reads: the same named data functions over either backend.

A :class:`CatalogStore` hands out a :class:`CatalogReader` per request (``with store.read() as
reader``); the handlers (:mod:`earmark.catalog.handlers`) only call the reader's methods. Two
stores exist: :class:`SqlCatalogStore` over the mirror (SQLite or PostgreSQL, setting
``catalog_backend = sql``) and the DuckDB one over the Parquet export
(:class:`earmark.musicbrainz.columnar_read.ColumnarStore`, ``catalog_backend = duckdb``). Both
run the statements of :mod:`earmark.musicbrainz.catalog_queries` through
:func:`earmark.musicbrainz.catalog.load_with`, so their answers are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from sqlalchemy.engine import Connection

from earmark.musicbrainz import catalog_search
from earmark.musicbrainz.catalog import (
    CatalogData,
    CatalogQuery,
    ReplicationState,
    load,
    ping,
    replication_state,
)
from earmark.musicbrainz.catalog_search import SearchPage
from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import MusicBrainzDatabase


class MirrorReadError(MusicBrainzError):
    """The catalog's data could not be read (a file gone or damaged since start-up)."""


class CatalogReader(Protocol):
    """One request's view of the catalog's data."""

    def load(self, query: CatalogQuery, *, fixed: bool = False) -> CatalogData: ...

    def search(self, kind: str, terms: Sequence[str], limit: int, offset: int) -> SearchPage: ...

    def replication_state(self) -> ReplicationState: ...

    def ping(self) -> None: ...

    def index_ready(self) -> bool: ...


class CatalogStore(Protocol):
    """Hands out readers; ``close`` releases what the store itself opened."""

    def read(self) -> AbstractContextManager[CatalogReader]: ...

    def close(self) -> None: ...


class SqlCatalogReader:
    """The mirror's database through one read connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load(self, query: CatalogQuery, *, fixed: bool = False) -> CatalogData:
        return load(self.conn, query, fixed=fixed)

    def search(self, kind: str, terms: Sequence[str], limit: int, offset: int) -> SearchPage:
        return catalog_search.search(self.conn, kind, terms, limit, offset)

    def replication_state(self) -> ReplicationState:
        return replication_state(self.conn)

    def ping(self) -> None:
        ping(self.conn)

    def index_ready(self) -> bool:
        return catalog_search.index_ready(self.conn)


class SqlCatalogStore:
    """The mirror's database; whoever built ``mirror`` disposes of it."""

    def __init__(self, mirror: MusicBrainzDatabase) -> None:
        self.mirror = mirror

    def read(self) -> AbstractContextManager[CatalogReader]:
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[CatalogReader]:
        with self.mirror.read() as conn:
            yield SqlCatalogReader(conn)

    def close(self) -> None:
        """Nothing: the mirror belongs to whoever built it."""
