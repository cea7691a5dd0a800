"""Refused files, bad listings, the URL source over a local http.server, and the options."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.db import opendata as db
from earmark.db import tables
from earmark.db.engine import Databases, read_connection
from earmark.opendata.decode import DataFileError
from earmark.opendata.importer import PUBLIC, ImportOptions, import_days
from earmark.opendata.layout import LayoutError
from earmark.opendata.source import DataDirectory, DataUrl
from tests.opendata.files import encode, stamp, write_day, write_file, write_listings
from tests.services import SqliteDatabases

DAY = dt.date(2025, 3, 1)


def days(root: Path, count: int, start: dt.date = DAY, per_day: int = 2) -> None:
    """``count`` days of tracks with one MBID link each, plain JSON lines."""
    for n in range(count):
        day = start + dt.timedelta(days=n)
        ids = [n * per_day + k + 1 for k in range(per_day)]
        write_day(
            root,
            day,
            {
                "track": [
                    {"id": i, "gid": str(uuid.UUID(int=i)), "created": stamp(day)} for i in ids
                ],
                "track_mbid": [
                    {
                        "id": i,
                        "track_id": i,
                        "mbid": str(uuid.UUID(int=10**6 + i)),
                        "submission_count": 1,
                        "created": stamp(day),
                    }
                    for i in ids
                ],
            },
            "plain",
        )


@pytest.fixture
def fresh(sqlite_databases: SqliteDatabases) -> Iterator[Databases]:
    dbs = Databases.single(sqlite_databases.create())
    yield dbs
    dbs.dispose()


def counts(dbs: Databases) -> tuple[int, int, dict[str, dt.date]]:
    with read_connection(dbs.fingerprint) as conn:
        tracks = conn.execute(sa.select(sa.func.count()).select_from(tables.track)).scalar_one()
        links = conn.execute(sa.select(sa.func.count()).select_from(tables.track_mbid)).scalar_one()
        return tracks, links, db.progress(conn, PUBLIC)


def test_a_truncated_day_is_refused_whole_and_applied_once_repaired(
    fresh: Databases, tmp_path: Path
) -> None:
    days(tmp_path, 3)
    bad = tmp_path / "2025" / "2025-03" / "2025-03-02-track_mbid-update.jsonl.gz"
    good = bad.read_bytes()
    bad.write_bytes(good[: len(good) - 10])
    with pytest.raises(DataFileError, match=r"2025-03-02-track_mbid.*truncated"):
        import_days(fresh.fingerprint, DataDirectory(tmp_path), ImportOptions())
    # Day 1 applied; nothing of day 2 (its track file was fine): the day is one transaction.
    assert counts(fresh) == (2, 2, {"track": DAY, "track_mbid": DAY} | _rest(DAY))
    bad.write_bytes(good)
    report = import_days(fresh.fingerprint, DataDirectory(tmp_path), ImportOptions())
    assert report.days == 2
    assert counts(fresh)[:2] == (6, 6)


def _rest(day: dt.date) -> dict[str, dt.date]:
    others = ("fingerprint", "meta", "track_fingerprint", "track_puid", "track_meta")
    return dict.fromkeys(others, day)


def test_a_line_that_is_not_json_refuses_its_day(fresh: Databases, tmp_path: Path) -> None:
    days(tmp_path, 2)
    row = {"id": 99, "gid": str(uuid.uuid4())}
    write_file(tmp_path, DAY + dt.timedelta(days=1), "track", encode([row], "plain") + b"oops\n")
    with pytest.raises(DataFileError, match="not JSON"):
        import_days(fresh.fingerprint, DataDirectory(tmp_path), ImportOptions())
    assert counts(fresh)[:2] == (2, 2)


def test_bad_dates_in_paths_are_reported_and_left_out(fresh: Databases, tmp_path: Path) -> None:
    days(tmp_path, 1)
    write_file(tmp_path / "2025", dt.date(2025, 2, 28), "track", b"", raw=True)
    (tmp_path / "2025" / "2025" / "2025-02" / "2025-02-28-track-update.jsonl.gz").rename(
        tmp_path / "2025" / "2025-03" / "2025-02-30-track-update.jsonl.gz"
    )
    (tmp_path / "2025" / "2025-13").mkdir()
    (tmp_path / "0000").mkdir()
    report = import_days(fresh.fingerprint, DataDirectory(tmp_path), ImportOptions())
    assert report.days == 1
    assert report.problems["bad-listing"] == 1
    assert "2025-02-30" in report.examples["bad-listing"][0]


def test_since_until_streams_and_dry_run(fresh: Databases, tmp_path: Path) -> None:
    days(tmp_path, 5)
    source = DataDirectory(tmp_path)
    dry = import_days(fresh.fingerprint, source, ImportOptions(dry_run=True))
    assert dry.days == 5
    assert dry.applied["track"] == 10
    assert counts(fresh) == (0, 0, {})
    only = ImportOptions(
        since=DAY + dt.timedelta(days=1), until=DAY + dt.timedelta(days=2), streams=("track",)
    )
    assert import_days(fresh.fingerprint, source, only).days == 2
    tracks, links, progress = counts(fresh)
    assert (tracks, links) == (4, 0)
    assert progress == {"track": DAY + dt.timedelta(days=2)}
    # A later run of every stream: tracks go on after day 3 (never applied twice), links
    # start at day 1, where --since left day 1's tracks out: their links wait, reported.
    report = import_days(fresh.fingerprint, source, ImportOptions())
    assert report.unchanged["track"] == 0
    assert counts(fresh)[:2] == (8, 8)
    assert report.problems["unknown-track"] == 2


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/data/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_url_source_reads_the_listings(fresh: Databases, served: tuple[Path, str]) -> None:
    www, url = served
    root = www / "data"
    days(root, 3)
    write_listings(root)
    (
        root / "2025" / "2025-03" / "2025-03-02-track_mbid-update.jsonl.gz"
    ).unlink()  # listed, missing
    source = DataUrl(url, timeout=5)
    try:
        files = source.files(None, None, lambda where, why: None)
        assert [f.name for f in files][:2] == [
            "2025-03-01-track-update.jsonl.gz",
            "2025-03-01-track_mbid-update.jsonl.gz",
        ]
        with pytest.raises(LayoutError, match="HTTP 404"):
            import_days(fresh.fingerprint, source, ImportOptions())
        assert counts(fresh)[:2] == (2, 2)
        write_listings(root)
        report = import_days(fresh.fingerprint, source, ImportOptions())
        assert report.days == 2
        assert counts(fresh)[:2] == (6, 4)  # day 2's links are gone: reported
        assert report.examples["missing-file"] == ["2025-03-02 track_mbid"]
    finally:
        source.close()


def test_url_listing_pointing_outside_the_root_is_refused(
    fresh: Databases, served: tuple[Path, str]
) -> None:
    www, url = served
    root = www / "data"
    days(root, 1)
    write_listings(root)
    (www / "secret.jsonl.gz").write_bytes(gzip.compress(b'{"id": 1}\n'))
    (root / "index.json").write_text('[{"name": "../secret.jsonl.gz"}]')
    source = DataUrl(url, timeout=5)
    try:
        with pytest.raises(LayoutError, match="outside its directory"):
            import_days(fresh.fingerprint, source, ImportOptions())
        (root / "index.json").write_text("not json")
        with pytest.raises(LayoutError, match="not JSON"):
            import_days(fresh.fingerprint, source, ImportOptions())
    finally:
        source.close()
    closed = DataUrl(url.replace(url.split(":")[2].split("/")[0], "9"), timeout=2)
    with pytest.raises(LayoutError, match="ConnectError"):
        closed.files(None, None, lambda where, why: None)
    closed.close()
