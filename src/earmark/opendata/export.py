"""``earmark data export``: Earmark's public data in AcoustID's daily layout.

The same streams, field names and types as upstream (a NULL is a missing key; ``disabled``
only when true), plain JSON lines ordered by id, an ``index.json`` per directory. A day is
written once, when it is over (UTC), and never again: its files are written under temporary
names and renamed. Only the fingerprint database's public tables are read: no accounts, API
keys, applications or IP addresses exist in them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from earmark.db.engine import is_sqlite
from earmark.db.tables import fingerprint, meta, track, track_mbid, track_meta, track_puid
from earmark.opendata.layout import STREAMS, DayFile

#: Fingerprints as JSON text compress little: level 6 made a day's file 6 % smaller than
#: level 1 in 7x the time (and level 9, Python's default, was most of an export's time).
GZIP_LEVEL = 1

_COLUMNS: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    "track": (track, ("id", "gid", "new_id", "created", "updated")),
    "fingerprint": (fingerprint, ("id", "fingerprint", "length", "created")),
    "meta": (
        meta,
        (
            "id",
            "track",
            "artist",
            "album",
            "album_artist",
            "track_no",
            "disc_no",
            "year",
            "created",
        ),
    ),
    "track_fingerprint": (
        fingerprint,
        ("id", "track_id", "submission_count", "created", "updated"),
    ),
    "track_mbid": (
        track_mbid,
        ("id", "track_id", "mbid", "submission_count", "disabled", "created", "updated"),
    ),
    "track_puid": (
        track_puid,
        ("id", "track_id", "puid", "submission_count", "created", "updated"),
    ),
    "track_meta": (
        track_meta,
        ("id", "track_id", "meta_id", "submission_count", "created", "updated"),
    ),
}


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, np.ndarray):  # a fingerprint: signed int32 items
        return value.tolist()
    return value


def row_json(stream: str, row: sa.Row[Any]) -> str:
    """One row as upstream writes it: NULLs left out, ``disabled`` only when true."""
    out: dict[str, Any] = {}
    for name, value in row._mapping.items():
        if value is None or (name == "disabled" and not value):
            continue
        out[name] = _json_value(value)
    if stream == "track_fingerprint":
        out["fingerprint_id"] = out["id"]
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _rows(
    conn: Connection, stream: str, start: dt.datetime | None, end: dt.datetime
) -> Iterator[sa.Row[Any]]:
    """The rows of ``stream`` created or updated in [start, end) (every row before ``end`` when
    ``start`` is None), by id."""
    table, names = _COLUMNS[stream]
    columns = [table.c[n] for n in names]
    created = table.c.created
    if start is None:
        where = created < end
    else:
        where = (created >= start) & (created < end)
        if "updated" in table.c and stream != "fingerprint":
            where = where | ((table.c.updated >= start) & (table.c.updated < end))
    query = sa.select(*columns).where(where).order_by(table.c.id)
    yield from conn.execution_options(yield_per=2000).execute(query)


def _write_file(
    conn: Connection, path: Path, stream: str, start: dt.datetime | None, end: dt.datetime
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out,
    ):
        _write_rows(conn, out, stream, start, end)
        out.close()
        raw.flush()
        os.fsync(raw.fileno())
    partial.replace(path)


def _write_rows(
    conn: Connection, out: gzip.GzipFile, stream: str, start: dt.datetime | None, end: dt.datetime
) -> None:
    for row in _rows(conn, stream, start, end):
        out.write(row_json(stream, row).encode() + b"\n")


def write_listings(root: Path, directories: set[Path]) -> None:
    """``index.json`` of each directory and its parents up to ``root``: names and sizes."""
    todo = set()
    for directory in directories:
        while True:
            todo.add(directory)
            if directory == root or root not in directory.parents:
                break
            directory = directory.parent
    for directory in sorted(todo):
        entries: list[dict[str, Any]] = []
        for child in sorted(directory.iterdir()):
            if child.name.startswith("index.") or child.name.endswith(".partial"):
                continue
            entry: dict[str, Any] = {"name": child.name}
            if child.is_file() and child.stat().st_size:
                entry["size"] = child.stat().st_size
            entries.append(entry)
        partial = directory / "index.json.partial"
        partial.write_text(json.dumps(entries, indent=1) + "\n")
        partial.replace(directory / "index.json")


def _first_day(conn: Connection) -> dt.date | None:
    firsts = [
        conn.execute(sa.select(sa.func.min(table.c.created))).scalar()
        for table in (track, fingerprint, meta, track_mbid, track_puid, track_meta)
    ]
    found = [_utc(v) if isinstance(v, dt.datetime) else None for v in firsts]
    days = [v.date() for v in found if v is not None]
    return min(days) if days else None


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent view for a whole export (rows streamed with a server-side cursor)."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _days_of(row: sa.Row[Any], stream: str, first: dt.date, last: dt.date) -> set[dt.date]:
    """The days (between first and last) whose file holds ``row``: its creation's, and its
    last update's (the fingerprint stream: creation only)."""
    days = set()
    for name in ("created", "updated"):
        value = row._mapping.get(name)
        if value is None or (name == "updated" and stream == "fingerprint"):
            continue
        day = _utc(value).date()
        if first <= day <= last:
            days.add(day)
    return days


def _write_month(
    conn: Connection, root: Path, stream: str, days: list[dt.date], touched: set[Path]
) -> None:
    """The files of ``stream`` for ``days`` (of one month): one pass over the rows by id."""
    first, last = days[0], days[-1]
    paths = {day: root / DayFile(day, stream).relative for day in days}
    partials = {day: path.with_name(path.name + ".partial") for day, path in paths.items()}
    first_path = paths[first]
    first_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        outs = {
            day: stack.enter_context(
                gzip.GzipFile(partial, mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
            )
            for day, partial in partials.items()
        }
        end = _midnight(last) + dt.timedelta(days=1)
        for row in _rows(conn, stream, _midnight(first), end):
            line = row_json(stream, row).encode() + b"\n"
            for day in _days_of(row, stream, first, last) & outs.keys():
                outs[day].write(line)
    for day, partial in partials.items():
        with partial.open("rb") as done:
            os.fsync(done.fileno())
        partial.replace(paths[day])
    touched.add(first_path.parent)


def export_days(engine: Engine, root: Path, today: dt.date) -> list[dt.date]:
    """Write every finished day (before ``today``) whose files are missing; the days written."""
    touched: set[Path] = {root}
    root.mkdir(parents=True, exist_ok=True)
    written: set[dt.date] = set()
    with _snapshot(engine) as conn:
        day = _first_day(conn)
        missing: dict[tuple[str, int, int], list[dt.date]] = {}
        while day is not None and day < today:
            for stream in STREAMS:
                if not (root / DayFile(day, stream).relative).exists():
                    missing.setdefault((stream, day.year, day.month), []).append(day)
                    written.add(day)
            day += dt.timedelta(days=1)
        for (stream, _, _), days in sorted(missing.items()):
            _write_month(conn, root, stream, days, touched)
    write_listings(root, touched)
    return sorted(written)


def export_full(engine: Engine, root: Path, today: dt.date) -> Path:
    """A snapshot: every row before ``today`` in the files of one day (yesterday), under
    ``root`` (a data root of its own: import it, then the daily files after that day)."""
    day = today - dt.timedelta(days=1)
    touched: set[Path] = {root}
    root.mkdir(parents=True, exist_ok=True)
    with _snapshot(engine) as conn:
        for stream in STREAMS:
            path = root / DayFile(day, stream).relative
            if path.exists():
                continue
            _write_file(conn, path, stream, None, _midnight(today))
            touched.add(path.parent)
    write_listings(root, touched)
    return root
