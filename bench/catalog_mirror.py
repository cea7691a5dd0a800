"""A synthetic MusicBrainz mirror for the catalog benchmarks, seeded and deterministic.

    .venv/bin/python bench/catalog_mirror.py --sqlite /tmp/mb.db --recordings 1000000
    .venv/bin/python bench/catalog_mirror.py --postgresql-url --keep   # on the local server

Shaped like MusicBrainz's data (per recording: ~1.7 tracks, ~0.7 ISRCs; ~12 recordings per
artist; ~1.5 releases per release group): artists (persons and groups, with sort names) under
single credits and multi-artist credits with join phrases (" feat. ", " & ", ", "); albums, EPs
and singles (release groups) each with one to five releases (editions: other countries, dates,
barcodes, labels and catalogue numbers; a deluxe edition adds bonus recordings); mediums (some
releases have two discs) and tracks (a track's title sometimes differs from its recording's);
Various Artists compilations that put existing recordings on more releases; release events in
one to three countries or an unknown country; ISRCs (a few shared by two recordings); gid
redirects (merged MBIDs) of recordings, tracks, releases, release groups and artists. Titles
and names are drawn from a made-up vocabulary (some words accented) with a Zipf-like frequency,
so a search term matches few or many entities as real ones do.

The tables are created by the code `earmark mb import` uses
(:meth:`earmark.musicbrainz.schema.MusicBrainzDatabase.create_schema`), then bulk-loaded: the
secondary indexes are dropped and re-created after the load, rows go in with ``executemany`` in
one transaction on SQLite and with ``COPY`` on PostgreSQL (foreign keys are not checked during
the load: session_replication_role=replica, as a superuser; the rows are generated consistent).
Then the catalog's search index is built by :func:`earmark.musicbrainz.catalog_search.build_index`
and the planner statistics refreshed (``ANALYZE``), as `earmark mb import` does.

As a module: :func:`fill` writes a mirror at a database URL and returns a :class:`Mirror` with
samples of its ids (ISRCs, MBIDs, barcodes), search queries and a few recordings whose expected
catalog answers are known (:class:`Expected`); :func:`fresh_database` makes a SQLite file or a
fresh PostgreSQL database (``EARMARK_BENCH_POSTGRES_URL``, default the local server) and drops
it afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PG_ADMIN = os.environ.get(
    "EARMARK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
from catalog_mirror_rows import _Generator, _Sink  # noqa: E402  (bench/ on sys.path above)
from catalog_mirror_shape import DEFAULT_RECORDINGS, DEFAULT_SEED, Mirror  # noqa: E402

# --- writing -----------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return sa.make_url(url).database or ""


class _SqliteLoad:
    """Rows into a SQLite file: one transaction, ``executemany``, no foreign key checks (the
    rows are consistent), no fsync until the end."""

    def __init__(self, url: str) -> None:
        self.conn = sqlite3.connect(_sqlite_path(url), isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        self.conn.execute("BEGIN")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        # Gids are stored as 32 hex digits (SQLAlchemy's UUID type on SQLite), dates as text.
        converted = [
            tuple(
                v.hex
                if isinstance(v, uuid.UUID)
                else v.strftime("%Y-%m-%d %H:%M:%S.%f")
                if isinstance(v, datetime)
                else v
                for v in row
            )
            for row in rows
        ]
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', converted
        )

    def indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        found = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' for _ in tables)}) ORDER BY name",
            list(tables),
        )
        return [(str(name), str(sql)) for name, sql in found]

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def drop_index(self, name: str) -> None:
        self.conn.execute(f'DROP INDEX "{name}"')

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class _PostgresLoad:
    """Rows into PostgreSQL with ``COPY``, in one transaction, foreign keys unchecked."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        parsed = sa.make_url(url).set(drivername="postgresql")
        self.conn = psycopg.connect(parsed.render_as_string(hide_password=False))
        self.schema = schema
        with self.conn.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cur.fetchone()
            if row and row[0]:
                cur.execute("SET session_replication_role = replica")
            cur.execute("SET maintenance_work_mem = '512MB'")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        statement = f'COPY "{self.schema}"."{table}" ({", ".join(columns)}) FROM STDIN'
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = %s "
                "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = i.schemaname AND c.conname = i.indexname) "
                "ORDER BY i.indexname",
                (self.schema, list(tables)),
            )
            return [(str(name), str(sql)) for name, sql in cur.fetchall()]

    def execute(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)  # type: ignore[arg-type]

    def drop_index(self, name: str) -> None:
        self.execute(f'DROP INDEX "{self.schema}"."{name}"')

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()


# --- the whole mirror --------------------------------------------------------------------


def fill(
    url: str,
    recordings: int = DEFAULT_RECORDINGS,
    seed: int = DEFAULT_SEED,
    schema: str = "musicbrainz",
    progress: Callable[[str], None] = lambda _line: None,
) -> Mirror:
    """Create the mirror's tables at ``url`` (an empty database), load ``recordings``
    recordings with everything around them, build the search index and ANALYZE."""
    from earmark.musicbrainz import catalog_search
    from earmark.musicbrainz.schema import SUBSET_TABLES, MusicBrainzDatabase

    if recordings < 20:
        raise ValueError("the mirror needs at least 20 recordings")
    mirror = Mirror(url=url, schema=schema, recordings=recordings, seed=seed)
    database = MusicBrainzDatabase.from_url(url, schema)
    try:
        started = time.perf_counter()
        database.create_schema()
        sqlite = database.engine.dialect.name == "sqlite"
        load: _SqliteLoad | _PostgresLoad = (
            _SqliteLoad(url) if sqlite else _PostgresLoad(url, schema)
        )
        indexes = load.indexes(SUBSET_TABLES)
        for name, _ in indexes:
            load.drop_index(name)
        sink = _Sink(load.write)
        _Generator(sink, recordings, seed, mirror).run()
        mirror.rows = dict(sink.counts)
        mirror.seconds["rows"] = time.perf_counter() - started
        progress(f"{sum(mirror.rows.values()):,} rows in {mirror.seconds['rows']:.1f} s")
        started = time.perf_counter()
        for _, sql in indexes:
            load.execute(sql)
        load.commit()
        mirror.seconds["indexes"] = time.perf_counter() - started
        progress(f"{len(indexes)} indexes in {mirror.seconds['indexes']:.1f} s")
        started = time.perf_counter()
        catalog_search.build_index(database)
        mirror.seconds["search index"] = time.perf_counter() - started
        progress(f"search index in {mirror.seconds['search index']:.1f} s")
        started = time.perf_counter()
        database.analyze()
        mirror.seconds["analyze"] = time.perf_counter() - started
        mirror.bytes_on_disk = _size(database)
    finally:
        database.dispose()
    return mirror


def _size(database: Any) -> int:
    engine = database.engine
    if engine.dialect.name == "sqlite":
        path = Path(_sqlite_path(str(engine.url)))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


@contextmanager
def fresh_database(
    kind: str, workdir: Path, *, keep: bool = False, admin_url: str = PG_ADMIN
) -> Iterator[str]:
    """A URL of an empty database: a SQLite file in ``workdir``, or a new PostgreSQL database
    on ``EARMARK_BENCH_POSTGRES_URL`` dropped afterwards unless ``keep``."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'musicbrainz.db'}"
        return
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"earmark_bench_catalog_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def describe(mirror: Mirror) -> str:
    rows = mirror.rows
    lines = [
        f"{mirror.url.split('@')[-1]}: {mirror.recordings:,} recordings (seed {mirror.seed})",
        "  "
        + ", ".join(
            f"{name} {rows.get(name, 0):,}"
            for name in ("artist", "release_group", "release", "medium", "track", "isrc")
        ),
        f"  {sum(rows.values()):,} rows; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in mirror.seconds.items())
        + f"; {mirror.bytes_on_disk / 2**20:,.0f} MiB on disk",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=DEFAULT_RECORDINGS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sqlite", type=Path, help="write a SQLite mirror at this path")
    parser.add_argument(
        "--postgresql-url",
        help="server to create a fresh database on (default: EARMARK_BENCH_POSTGRES_URL)",
        nargs="?",
        const=PG_ADMIN,
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    if args.sqlite is None and args.postgresql_url is None:
        parser.error("give --sqlite PATH and/or --postgresql-url [URL]")
    if args.sqlite is not None:
        if args.sqlite.exists():
            parser.error(f"{args.sqlite} exists")
        mirror = fill(f"sqlite:///{args.sqlite}", args.recordings, args.seed, progress=print)
        print(describe(mirror))
    if args.postgresql_url is not None:
        with fresh_database(
            "postgresql", Path("."), keep=args.keep, admin_url=args.postgresql_url
        ) as url:
            mirror = fill(url, args.recordings, args.seed, progress=print)
            print(describe(mirror))
            if args.keep:
                print(f"kept: {url}")


if __name__ == "__main__":
    main()
