"""The lookup subset of the MusicBrainz schema, from mbdata's models, on SQLite and PostgreSQL.

mbdata's models are configured once per process (schema ``musicbrainz``) the first time
:func:`tables` runs, never when an Earmark module is imported. The statements name the schema
``musicbrainz``; a connection maps it away with SQLAlchemy's ``schema_translate_map``: to no schema
on SQLite (one file holds the subset), to the ``musicbrainz_schema`` setting on PostgreSQL.

Besides the 20 tables the lookup reads (musicbrainz.md §5.3) the subset has what the catalog
API reads (labels, the other entities' gid redirects), the 8 small tables their foreign keys
point at, the two mirror-only indexes ``medium(release, position)`` and
``track(medium, position)`` (and one on ``release(barcode)``), and ``release_event``: a view,
as on a real mirror, over ``release_country`` and ``release_unknown_country`` (whose events get
a NULL country).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.sql.base import Executable

from earmark.db import driver
from earmark.db.engine import (
    create_engine,
    is_sqlite,
    musicbrainz_url,
    pool_options,
    read_connection,
    write_transaction,
)
from earmark.musicbrainz.errors import MusicBrainzError
from earmark.settings import Settings

SCHEMA = "musicbrainz"

# The tables the lookup reads (musicbrainz.md §5.3), then the targets of their foreign keys.
LOOKUP_TABLES: tuple[str, ...] = (
    "recording",
    "recording_gid_redirect",
    "track",
    "medium",
    "medium_format",
    "release",
    "release_country",
    "release_unknown_country",
    "release_group",
    "release_group_primary_type",
    "release_group_secondary_type",
    "release_group_secondary_type_join",
    "artist_credit",
    "artist_credit_name",
    "artist",
    "area",
    "country_area",
    "iso_3166_1",
    "isrc",
    "replication_control",
)
# What the catalog API (earmark.catalog) reads besides: labels and catalogue numbers, and the
# redirects of the other entities it takes MBIDs of (merged ids answer with the current one).
CATALOG_TABLES: tuple[str, ...] = (
    "label",
    "release_label",
    "artist_gid_redirect",
    "release_gid_redirect",
    "release_group_gid_redirect",
    "track_gid_redirect",
)
FOREIGN_KEY_TABLES: tuple[str, ...] = (
    "area_type",
    "artist_type",
    "gender",
    "label_type",
    "language",
    "release_packaging",
    "release_status",
    "script",
)

# mbdata renders MusicBrainz's partial unique indexes `artist (name) WHERE comment IS NULL` (and
# the same on label) as plain unique indexes on the name; comment is NOT NULL, so the real
# indexes are always empty, and the plain ones would reject every pair of artists (labels)
# sharing a name (real dumps have thousands).
SKIPPED_INDEXES = frozenset({"artist_idx_null_comment", "label_idx_null_comment"})

# CreateMirrorIndexes.sql: not in mbdata's models, needed by the per-release side queries.
MIRROR_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("medium_idx_release_position", "medium", ("release", "position")),
    ("track_idx_medium_position", "track", ("medium", "position")),
    # Not in MusicBrainz at all: the catalog's /lookup/barcode.
    ("release_idx_barcode", "release", ("barcode",)),
)

RELEASE_EVENT = "release_event"
#: Every real table of the subset.
SUBSET_TABLES: tuple[str, ...] = LOOKUP_TABLES + CATALOG_TABLES + FOREIGN_KEY_TABLES


@dataclass(frozen=True)
class MbTables:
    """The Table objects of the subset (schema ``musicbrainz``; map it per connection)."""

    recording: sa.Table
    recording_gid_redirect: sa.Table
    track: sa.Table
    medium: sa.Table
    medium_format: sa.Table
    release: sa.Table
    release_country: sa.Table
    release_unknown_country: sa.Table
    release_group: sa.Table
    release_group_primary_type: sa.Table
    release_group_secondary_type: sa.Table
    release_group_secondary_type_join: sa.Table
    artist_credit: sa.Table
    artist_credit_name: sa.Table
    artist: sa.Table
    area: sa.Table
    country_area: sa.Table
    iso_3166_1: sa.Table
    isrc: sa.Table
    replication_control: sa.Table
    label: sa.Table
    release_label: sa.Table
    artist_gid_redirect: sa.Table
    release_gid_redirect: sa.Table
    release_group_gid_redirect: sa.Table
    track_gid_redirect: sa.Table
    area_type: sa.Table
    artist_type: sa.Table
    gender: sa.Table
    label_type: sa.Table
    language: sa.Table
    release_packaging: sa.Table
    release_status: sa.Table
    script: sa.Table
    release_event: sa.Table

    def base_tables(self) -> list[sa.Table]:
        """Every real table of the subset, parents before children (foreign-key order)."""
        wanted = [getattr(self, name) for name in sorted(SUBSET_TABLES)]
        return list(sa.schema.sort_tables(wanted))

    def by_name(self) -> dict[str, sa.Table]:
        return {table.name: table for table in self.base_tables()}


def models() -> Any:
    """The ``mbdata.models`` module, configured for schema ``musicbrainz`` on first use.

    ``mbdata.config.configure()`` only works before the first import of ``mbdata.models`` and
    holds for the whole process, which is why this runs lazily and checks what it finds.
    """
    if "mbdata.models" not in sys.modules:
        import mbdata.config

        mbdata.config.configure(schema=SCHEMA)
    import mbdata.models

    found = mbdata.models.Recording.__table__.schema
    if found != SCHEMA:
        raise MusicBrainzError(
            f"mbdata.models was imported with schema {found!r} before Earmark configured it; "
            f"Earmark needs {SCHEMA!r}"
        )
    return mbdata.models


@functools.cache
def tables() -> MbTables:
    """The subset's tables (built once; later calls return the same objects)."""
    base = models().Base.metadata.tables
    found = {name: base[f"{SCHEMA}.{name}"] for name in SUBSET_TABLES}
    # A view on a real mirror; declared here (own metadata) so that queries can use it.
    release_event = sa.Table(
        RELEASE_EVENT,
        sa.MetaData(),
        sa.Column("release", sa.Integer),
        sa.Column("date_year", sa.SmallInteger),
        sa.Column("date_month", sa.SmallInteger),
        sa.Column("date_day", sa.SmallInteger),
        sa.Column("country", sa.Integer),
        schema=SCHEMA,
    )
    names = {f.name for f in fields(MbTables)} - {RELEASE_EVENT}
    return MbTables(**{name: found[name] for name in names}, release_event=release_event)


def translate_map(dialect_name: str, schema_name: str = SCHEMA) -> dict[str, str | None] | None:
    """Where the ``musicbrainz`` schema of the statements really is on this kind of database;
    None when it is where the statements say (PostgreSQL's default): a map, even one changing
    nothing, makes SQLAlchemy rewrite every statement's text at each execution."""
    if dialect_name == "sqlite":
        return {SCHEMA: None}
    if schema_name == SCHEMA:
        return None
    return {SCHEMA: schema_name}


def _options(conn: Connection) -> dict[str, Any]:
    if "schema_translate_map" in conn.get_execution_options():
        return {}
    found = translate_map(conn.dialect.name)
    return {} if found is None else {"schema_translate_map": found}


def execute(conn: Connection, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
    """Run a statement on the subset's tables.

    A connection from :func:`connect` or :func:`transaction` carries its schema map; any other
    connection gets the default one (no schema on SQLite, ``musicbrainz`` on PostgreSQL).
    """
    return conn.execute(statement, parameters, execution_options=_options(conn))


def fetch(
    conn: Connection,
    statement: driver.Statement,
    parameters: Mapping[str, Any],
    *,
    sqlite: bool = False,
) -> list[Any]:
    """Every row of a read statement on the subset, by position and by column label.

    On PostgreSQL it runs on psycopg directly (:mod:`earmark.db.driver`), in the connection's
    schema: a lookup without cached metadata runs three such statements, and SQLAlchemy's
    execution cost about twice the client CPU of the driver's. With ``sqlite``, on SQLite too
    (on ``sqlite3``, its list parameters as JSON arrays: the catalog's reads).
    """
    if not driver.usable(conn, sqlite=sqlite):
        return list(execute(conn, statement, parameters))
    options = conn.get_execution_options()
    if "schema_translate_map" in options:
        schema_map = options["schema_translate_map"]
    else:
        schema_map = translate_map(conn.dialect.name)
    return driver.fetch_all(conn, statement, parameters, schema_map=schema_map, named=True)


@contextmanager
def connect(engine: Engine, schema_name: str = SCHEMA) -> Iterator[Connection]:
    """A read connection whose statements find the subset in ``schema_name``."""
    with read_connection(engine) as conn:
        conn.execution_options(schema_translate_map=translate_map(engine.dialect.name, schema_name))
        yield conn


@contextmanager
def transaction(engine: Engine, schema_name: str = SCHEMA) -> Iterator[Connection]:
    """A write transaction (SQLite: the engine's single writer) on the subset."""
    with write_transaction(engine) as conn:
        conn.execution_options(schema_translate_map=translate_map(engine.dialect.name, schema_name))
        yield conn


def create_schema(engine: Engine, schema_name: str = SCHEMA) -> list[str]:
    """Create whatever part of the subset is missing; return the names of the tables created.

    On PostgreSQL the schema itself is created when missing. Existing tables are left alone,
    so this is safe on a full mirror made by mbslave (which already has the view).
    """
    mb = tables()
    created: list[str] = []
    with transaction(engine, schema_name) as conn:
        if not is_sqlite(engine):
            conn.execute(sa.schema.CreateSchema(schema_name, if_not_exists=True))
        target_schema = None if is_sqlite(engine) else schema_name
        existing = set(sa.inspect(conn).get_table_names(schema=target_schema))
        for table in mb.base_tables():
            if table.name in existing:
                continue
            conn.execute(sa.schema.CreateTable(table))
            for index in sorted(table.indexes, key=lambda found: str(found.name)):
                if index.name not in SKIPPED_INDEXES:
                    conn.execute(sa.schema.CreateIndex(index))
            created.append(table.name)
        for name, table_name, columns in MIRROR_INDEXES:
            conn.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {name} ON {qualified(conn, table_name, schema_name)}"
                f" ({', '.join(columns)})"
            )
        _create_release_event_view(conn, schema_name)
    return created


def analyze(engine: Engine, schema_name: str = SCHEMA) -> None:
    """Refresh the planner's statistics of the subset's tables after a bulk load.

    Until then PostgreSQL plans the lookup's joins for tables it believes nearly empty (seq
    scans, the wrong join order): several times slower per lookup, for as long as autovacuum
    takes to get there, or for good where it is off. SQLite's ANALYZE helps its planner too.
    """
    with transaction(engine, schema_name) as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            return
        for name in tables().by_name():
            conn.exec_driver_sql(f"ANALYZE {qualified(conn, name, schema_name)}")


def qualified(conn: Connection, table_name: str, schema_name: str = SCHEMA) -> str:
    """A table's name for hand-written SQL, with the schema on PostgreSQL."""
    preparer = conn.dialect.identifier_preparer
    if conn.dialect.name == "sqlite":
        return preparer.quote(table_name)
    return f"{preparer.quote_schema(schema_name)}.{preparer.quote(table_name)}"


def _create_release_event_view(conn: Connection, schema_name: str) -> None:
    # The definition of MusicBrainz's CreateViews.sql (same columns, same order).
    country = qualified(conn, "release_country", schema_name)
    unknown = qualified(conn, "release_unknown_country", schema_name)
    view = qualified(conn, RELEASE_EVENT, schema_name)
    null_country = "NULL" if conn.dialect.name == "sqlite" else "NULL::integer"
    body = (
        "SELECT release, date_year, date_month, date_day, country FROM ("
        f"SELECT release, date_year, date_month, date_day, country FROM {country} "
        "UNION ALL "
        f"SELECT release, date_year, date_month, date_day, {null_country} FROM {unknown}"
        ") AS q"
    )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"CREATE VIEW IF NOT EXISTS {view} AS {body}")
    else:
        conn.exec_driver_sql(f"CREATE OR REPLACE VIEW {view} AS {body}")


@dataclass(frozen=True)
class MusicBrainzDatabase:
    """The MusicBrainz mirror: its engine and the schema holding the subset (PostgreSQL)."""

    engine: Engine
    schema_name: str = SCHEMA

    @classmethod
    def from_url(
        cls, url: str, schema_name: str = SCHEMA, **engine_kwargs: Any
    ) -> MusicBrainzDatabase:
        return cls(create_engine(url, **engine_kwargs), schema_name)

    @classmethod
    def from_settings(cls, settings: Settings, **engine_kwargs: Any) -> MusicBrainzDatabase:
        """``musicbrainz_database_url`` (default ``<data_dir>/musicbrainz.db``) and its schema."""
        return cls.from_url(
            musicbrainz_url(settings),
            settings.musicbrainz_schema,
            **{**pool_options(settings), **engine_kwargs},
        )

    def read(self) -> AbstractContextManager[Connection]:
        return connect(self.engine, self.schema_name)

    def on(self, conn: Connection) -> Connection:
        """``conn``, a connection of :attr:`engine` opened for other work, made to find the
        subset in :attr:`schema_name` too (Earmark's own tables have no schema, so their
        statements are unaffected): one connection serves a whole lookup when the mirror and
        the fingerprints share a database."""
        if conn.engine is not self.engine:
            raise ValueError("the connection belongs to another database")
        return conn.execution_options(
            schema_translate_map=translate_map(self.engine.dialect.name, self.schema_name)
        )

    def write(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, self.schema_name)

    def create_schema(self) -> list[str]:
        return create_schema(self.engine, self.schema_name)

    def analyze(self) -> None:
        analyze(self.engine, self.schema_name)

    def dispose(self) -> None:
        self.engine.dispose()
