"""Importing ``mbdump.tar.bz2`` archives: a real-format round trip and hostile archives.

The archives are built here from the session mirror's rows (mbdata's sample plus synthetic
data) in PostgreSQL's COPY text format; on PostgreSQL the encoder is checked against the
server's own ``COPY ... TO STDOUT``.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from earmark.musicbrainz import copytext
from earmark.musicbrainz.dump import import_dump
from earmark.musicbrainz.errors import DumpError
from earmark.musicbrainz.redirects import last_replication_date
from earmark.musicbrainz.schema import MusicBrainzDatabase, qualified, tables
from tests.musicbrainz.cases import SAMPLE_REQUEST
from tests.musicbrainz.support import (
    Mirror,
    dump_members,
    links,
    lookup,
    planner_rows,
    row_counts,
    table_rows,
    write_archive,
)
from tests.services import PostgresDatabases, SqliteDatabases

EVERYTHING = "recordings releasegroups releases tracks compress sources isrcs"
INFO = {
    "SCHEMA_SEQUENCE": b"31\n",
    "REPLICATION_SEQUENCE": b"123456\n",
    "TIMESTAMP": b"2026-05-16 00:01:02.5+00\n",
}
UNRELATED = {"COPYING": b"CC0\n", "mbdump/work": b"1\tx\n", "mbdump/l_artist_recording": b""}


@pytest.fixture(scope="module")
def members(sqlite_mirror: Mirror) -> dict[str, bytes]:
    return dump_members(sqlite_mirror.database)


def _empty_sqlite(sqlite_databases: SqliteDatabases) -> MusicBrainzDatabase:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    return database


def _empty_postgres(pg_databases: PostgresDatabases) -> MusicBrainzDatabase:
    database = MusicBrainzDatabase.from_url(pg_databases.create(migrated=False), "mb_import")
    database.create_schema()
    return database


@pytest.fixture(scope="module")
def empty_sqlite(sqlite_databases: SqliteDatabases) -> Iterator[MusicBrainzDatabase]:
    database = _empty_sqlite(sqlite_databases)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def empty_postgresql(pg_databases: PostgresDatabases) -> Iterator[MusicBrainzDatabase]:
    database = _empty_postgres(pg_databases)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest) -> MusicBrainzDatabase:
    """An empty subset that hostile imports must leave empty (shared by those tests)."""
    found: MusicBrainzDatabase = request.getfixturevalue(f"empty_{request.param}")
    return found


def _import(database: MusicBrainzDatabase, path: Path) -> None:
    import_dump(database.engine, path, schema_name=database.schema_name)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_round_trip(
    request: pytest.FixtureRequest,
    sqlite_mirror: Mirror,
    members: dict[str, bytes],
    tmp_path: Path,
    kind: str,
) -> None:
    factory = request.getfixturevalue(f"{'pg' if kind == 'postgresql' else 'sqlite'}_databases")
    target = _empty_postgres(factory) if kind == "postgresql" else _empty_sqlite(factory)
    path = write_archive(tmp_path / "mbdump.tar.bz2", {**INFO, **UNRELATED, **members})
    seen: list[int] = []
    try:
        report = import_dump(
            target.engine, path, schema_name=target.schema_name, progress=seen.append
        )
        source_counts = row_counts(sqlite_mirror.database)
        assert row_counts(target) == source_counts
        assert report.rows == source_counts
        assert report.skipped == len(UNRELATED)
        assert report.schema_sequence == 31
        assert sum(seen) == path.stat().st_size
        # The import refreshed the planner's statistics (PostgreSQL: -1 before any ANALYZE).
        assert planner_rows(target, "recording") == source_counts["recording"]
        assert planner_rows(target, "track") == source_counts["track"]
        data = sqlite_mirror.synthetic
        request_rows = [
            *SAMPLE_REQUEST,
            ("synthetic", 0.3, links(*[(mbid, 2) for mbid in data.recordings[:40]])),
            ("redirected", 0.2, links(*[(old, 1) for old in data.redirects])),
        ]
        for meta in (EVERYTHING, "2", "releasegroups releases tracks"):
            expected = lookup(sqlite_mirror.database, meta, request_rows).results
            assert lookup(target, meta, request_rows).results == expected
        if kind == "sqlite":
            for name in tables().by_name():
                assert table_rows(target, name) == table_rows(sqlite_mirror.database, name)
        with target.read() as conn:
            assert last_replication_date(conn) == last_replication_date_of(sqlite_mirror)
    finally:
        target.dispose()


def last_replication_date_of(mirror: Mirror) -> datetime | None:
    with mirror.database.read() as conn:
        return last_replication_date(conn)


def test_multi_stream_bzip2(
    sqlite_databases: SqliteDatabases, members: dict[str, bytes], tmp_path: Path
) -> None:
    """Parallel bzip2 tools write several streams; tarfile's own r|bz2 stops after the first."""
    target = _empty_sqlite(sqlite_databases)
    path = write_archive(tmp_path / "multi.tar.bz2", members, streams=4)
    try:
        report = import_dump(target.engine, path)
        assert report.rows["track"] == len(members["mbdump/track"].splitlines())
    finally:
        target.dispose()


def test_replication_control_from_the_info_files(
    sqlite_databases: SqliteDatabases, tmp_path: Path
) -> None:
    target = _empty_sqlite(sqlite_databases)
    formats = b"1\tCD\t\\N\t0\t1982\tt\t\\N\t9712d52a-4509-3d4b-a1a2-67c88c643e31\n"
    path = write_archive(tmp_path / "a.tar.bz2", {**INFO, "mbdump/medium_format": formats})
    try:
        report = import_dump(target.engine, path)
        assert report.rows == {"medium_format": 1, "replication_control": 1}
        with target.read() as conn:
            assert last_replication_date(conn) == datetime(2026, 5, 16, 0, 1, 2, 500000, UTC)
            control = tables().replication_control
            row = conn.execute(sa.select(control)).one()
        assert (row.current_schema_sequence, row.current_replication_sequence) == (31, 123456)
    finally:
        target.dispose()


def _bad_columns(members: dict[str, bytes]) -> dict[str, bytes]:
    first, rest = members["mbdump/recording"].split(b"\n", 1)
    return {**members, "mbdump/recording": first + b"\textra\n" + rest}


def _bad_value(members: dict[str, bytes]) -> dict[str, bytes]:
    first, rest = members["mbdump/recording"].split(b"\n", 1)
    return {**members, "mbdump/recording": b"abc" + first[first.index(b"\t") :] + b"\n" + rest}


def _missing_parents(members: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in members.items() if name != "mbdump/artist_credit"}


HOSTILE = {
    "bad column count": (_bad_columns, "mbdump/recording"),
    "bad value": (_bad_value, "mbdump/recording"),
    "broken foreign key": (_missing_parents, "foreign key"),
    "unsafe parent path": (lambda m: {**m, "../x": b"boom"}, "unsafe member path '../x'"),
    "unsafe inner path": (lambda m: {**m, "mbdump/../track": b""}, "unsafe member path"),
    "absolute path": (lambda m: {"/mbdump/recording": b"", **m}, "unsafe member path"),
    "no subset table": (lambda m: dict(UNRELATED), "no MusicBrainz table"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_leaves_nothing_behind(
    empty: MusicBrainzDatabase, members: dict[str, bytes], tmp_path: Path, case: str
) -> None:
    build, message = HOSTILE[case]
    path = write_archive(tmp_path / "hostile.tar.bz2", build(members))
    with pytest.raises(DumpError, match=message.replace("(", r"\(")):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_duplicate_member(
    empty: MusicBrainzDatabase, members: dict[str, bytes], tmp_path: Path
) -> None:
    twice = [*members.items(), ("mbdump/recording", members["mbdump/recording"])]
    path = write_archive(tmp_path / "dup.tar.bz2", twice)
    with pytest.raises(DumpError, match="appears twice"):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_truncated_archive(
    empty: MusicBrainzDatabase, members: dict[str, bytes], tmp_path: Path
) -> None:
    """Cut inside the last of several bzip2 streams: the first tables load, then it breaks."""
    path = write_archive(tmp_path / "full.tar.bz2", members, streams=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 9 // 10])
    with pytest.raises(DumpError, match="the archive is truncated"):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_truncated_before_the_first_member(empty: MusicBrainzDatabase, tmp_path: Path) -> None:
    path = write_archive(tmp_path / "tiny.tar.bz2", {"mbdump/gender": b"1\tMale\t\\N\t1\t\\N\tx\n"})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DumpError, match="truncated"):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_not_an_archive(empty: MusicBrainzDatabase, tmp_path: Path) -> None:
    path = tmp_path / "mbdump.tar.bz2"
    path.write_text("this is not bzip2\n")
    with pytest.raises(DumpError, match="not a bzip2-compressed tar archive"):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_member_that_is_not_a_file(
    empty: MusicBrainzDatabase, members: dict[str, bytes], tmp_path: Path
) -> None:
    def as_link(info: tarfile.TarInfo) -> None:
        if info.name == "mbdump/recording":
            info.type, info.linkname, info.size = tarfile.SYMTYPE, "/etc/passwd", 0

    path = write_archive(tmp_path / "link.tar.bz2", members, tweak=as_link)
    with pytest.raises(DumpError, match="not a regular file"):
        _import(empty, path)
    assert sum(row_counts(empty).values()) == 0


def test_refuses_tables_that_hold_rows(
    sqlite_mirror: Mirror, members: dict[str, bytes], tmp_path: Path
) -> None:
    before = row_counts(sqlite_mirror.database)
    path = write_archive(tmp_path / "again.tar.bz2", members)
    with pytest.raises(DumpError, match="already hold rows"):
        _import(sqlite_mirror.database, path)
    assert row_counts(sqlite_mirror.database) == before


@pytest.mark.parametrize(
    "name", ["recording", "artist", "artist_credit", "release_country", "medium", "isrc"]
)
def test_encoder_writes_what_postgresql_writes(postgres_mirror: Mirror, name: str) -> None:
    import psycopg

    table = tables().by_name()[name]
    ours = b"".join(copytext.format_line(row) for row in table_rows(postgres_mirror.database, name))
    with postgres_mirror.database.read() as conn:
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        columns = ", ".join(column.name for column in table.columns)
        order = ", ".join(column.name for column in table.primary_key.columns)
        source = qualified(conn, name, postgres_mirror.database.schema_name)
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        copied = b""
        with (
            driver.cursor() as cursor,
            cursor.copy(
                f"COPY (SELECT {columns} FROM {source} ORDER BY {order}) TO STDOUT"
            ) as copy,
        ):
            for chunk in copy:
                copied += bytes(chunk)
    assert ours == copied


def test_copy_text_escapes_round_trip() -> None:
    values = ["tab\there", "new\nline", "back\\slash", "cr\rx", "ünï ナ", "", None, True, 7]
    fields = copytext.split_line(copytext.format_line(values).removesuffix(b"\n"))
    decoded = [None if f is None else f.decode() for f in fields]
    assert decoded == [
        "tab\there",
        "new\nline",
        "back\\slash",
        "cr\rx",
        "ünï ナ",
        "",
        None,
        "t",
        "7",
    ]
    assert copytext.unescape(b"\\303\\251\\x41\\q") == "éA".encode() + b"q"
