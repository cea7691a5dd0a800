"""``earmark data import``: read a source's days and apply those not applied yet.

Each day is read (downloaded, decompressed, validated) before its transaction opens, then
applied in one transaction that also records the day as the last one applied for its streams:
a crash at any moment leaves either the whole day or none of it, and a re-run starts after the
last day recorded. New fingerprints go to ``index_outbox`` in the same transaction; ``flush``
(after each day) sends them to the index in batches.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from earmark.db import opendata as db
from earmark.db.engine import read_connection, write_transaction
from earmark.opendata.apply import Rows, apply_day, keep_later
from earmark.opendata.decode import iter_objects
from earmark.opendata.layout import STREAMS, DayFile
from earmark.opendata.report import DataImportReport
from earmark.opendata.rows import RowError, parse_row
from earmark.opendata.source import DaySource, chunks

PUBLIC = "acoustid-public"


@dataclass(frozen=True)
class ImportOptions:
    provenance: str = PUBLIC
    since: dt.date | None = None
    until: dt.date | None = None
    streams: tuple[str, ...] = STREAMS
    dry_run: bool = False


@dataclass(frozen=True)
class DayDone:
    """One day applied (for progress bars and log lines)."""

    day: dt.date
    index: int
    total: int
    report: DataImportReport


class _RollbackError(Exception):
    """Rolls back the dry run's transaction."""


def read_day(
    source: DaySource, files: Sequence[DayFile], report: DataImportReport
) -> dict[str, Rows]:
    """Every stream's validated rows of one day; DataFileError for a file that cannot be read."""
    rows: dict[str, Rows] = {}
    for day_file in files:
        found: Rows = {}
        where = day_file.relative
        with source.open(day_file) as handle:
            for raw in iter_objects(chunks(handle), where, day_file.day):
                try:
                    row = parse_row(day_file.stream, raw)
                except RowError as exc:
                    report.problem("invalid-row", f"{where}: id {raw.get('id')!r:.20}: {exc}")
                    continue
                keep_later(found, row, where, report)
        rows[day_file.stream] = found
    return rows


def _gaps(by_day: dict[dt.date, list[DayFile]], report: DataImportReport) -> None:
    if not by_day:
        return
    present = {f.stream for files in by_day.values() for f in files}
    day, last = min(by_day), max(by_day)
    while day <= last:
        files = by_day.get(day)
        if files is None:
            report.problem("missing-day", day.isoformat())
        else:
            for stream in sorted(present - {f.stream for f in files}):
                report.problem("missing-file", f"{day.isoformat()} {stream}")
        day += dt.timedelta(days=1)


def import_days(
    engine: Engine,
    source: DaySource,
    options: ImportOptions,
    *,
    flush: Callable[[], object] | None = None,
    on_day: Callable[[DayDone], None] | None = None,
) -> DataImportReport:
    """Apply the days of ``source`` not applied yet (``engine``: the fingerprint database).

    Stops with DataFileError at a file that cannot be read, the days before it applied.
    """
    report = DataImportReport()
    with read_connection(engine) as conn:
        done = db.progress(conn, options.provenance)
    since = options.since
    if all(s in done for s in options.streams):
        # Only the days after the progress matter: list (download) nothing older.
        after = min(done[s] for s in options.streams) + dt.timedelta(days=1)
        since = max(since, after) if since is not None else after
    files = source.files(
        since, options.until, lambda where, why: report.problem("bad-listing", f"{where}: {why}")
    )
    by_day: dict[dt.date, list[DayFile]] = defaultdict(list)
    for day_file in files:
        if day_file.stream in options.streams:
            by_day[day_file.day].append(day_file)
    _gaps(by_day, report)
    todo = []
    for day in sorted(by_day):
        streams = [s for s in options.streams if s not in done or done[s] < day]
        if streams:
            todo.append((day, streams))
    if options.dry_run:
        try:
            with write_transaction(engine) as conn:
                for number, (day, streams) in enumerate(todo, 1):
                    wanted = [f for f in by_day[day] if f.stream in streams]
                    apply_day(
                        conn,
                        options.provenance,
                        day,
                        read_day(source, wanted, report),
                        streams,
                        report,
                    )
                    if on_day is not None:
                        on_day(DayDone(day, number, len(todo), report))
                _parked(conn, options.provenance, report)
                raise _RollbackError
        except _RollbackError:
            return report
    for number, (day, streams) in enumerate(todo, 1):
        wanted = [f for f in by_day[day] if f.stream in streams]
        rows = read_day(source, wanted, report)
        with write_transaction(engine) as conn:
            apply_day(conn, options.provenance, day, rows, streams, report)
        if flush is not None:
            flush()
        if on_day is not None:
            on_day(DayDone(day, number, len(todo), report))
    with read_connection(engine) as conn:
        _parked(conn, options.provenance, report)
    return report


def _parked(conn: Connection, provenance: str, report: DataImportReport) -> None:
    for entry in db.parked(conn, provenance):
        kind = "unknown-track" if entry.waits_for.startswith("track:") else "unknown-row"
        report.problem(
            kind, f"{entry.stream} {entry.upstream_id} ({entry.day}) waits for {entry.waits_for}"
        )
