"""`earmark data`: import AcoustID's public data set, export Earmark's own (docs/open-data.md)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from earmark.cli.context import loaded_settings
from earmark.errors import UsageError

# The database, the index and the readers are imported by the commands (fast `earmark --help`).

log = logging.getLogger("earmark.data")
_STREAM_NAMES = "track,fingerprint,meta,track_fingerprint,track_mbid,track_puid,track_meta"


@click.group("data")
def data() -> None:
    """Import AcoustID's public data set (daily files) and export Earmark's own."""


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _streams(value: str | None) -> tuple[str, ...]:
    from earmark.opendata.layout import STREAMS

    if not value:
        return STREAMS
    asked = {name.strip().removesuffix("-update") for name in value.split(",") if name.strip()}
    unknown = asked - set(STREAMS)
    if unknown:
        raise UsageError(f"unknown streams: {', '.join(sorted(unknown))} (known: {_STREAM_NAMES})")
    return tuple(s for s in STREAMS if s in asked)


@data.command("import")
@click.argument("source")
@click.option("--since", callback=_date, help="First day to apply (YYYY-MM-DD).")
@click.option("--until", callback=_date, help="Last day to apply (YYYY-MM-DD).")
@click.option("--streams", help=f"Comma-separated streams (default all: {_STREAM_NAMES}).")
@click.option("--dry-run", is_flag=True, help="Read, check and report; write nothing.")
@click.option(
    "--provenance",
    default="acoustid-public",
    show_default=True,
    help="The name imported rows are marked with (one id map per name).",
)
@click.pass_context
def import_cmd(
    ctx: click.Context,
    source: str,
    since: dt.date | None,
    until: dt.date | None,
    streams: str | None,
    dry_run: bool,
    provenance: str,
) -> None:
    """Apply the days of SOURCE not applied yet: a directory laid out like AcoustID's data root
    (YYYY/YYYY-MM/YYYY-MM-DD-<stream>-update.jsonl.gz) or its base URL (read through the
    index.json listings).

    Resumable: each day is one transaction that records it as done. With the embedded index (no
    index_url) stop `earmark serve` first: the index files belong to one process at a time.
    """
    from earmark import indexsync
    from earmark.app import open_databases, open_index
    from earmark.opendata.importer import ImportOptions, import_days
    from earmark.opendata.source import open_source

    options = ImportOptions(provenance, since, until, _streams(streams), dry_run)
    settings = loaded_settings(ctx).settings
    reader = open_source(source)
    dbs = open_databases(settings)
    handle = None if dry_run else open_index(settings)
    try:

        def flush() -> int:
            assert handle is not None
            return indexsync.flush_outbox(dbs, handle.client, handle.name)

        report = import_days(
            dbs.fingerprint,
            reader,
            options,
            flush=None if handle is None else flush,
            on_day=_progress(),
        )
    finally:
        reader.close()
        if handle is not None:
            handle.close()
        dbs.dispose()
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")


def _progress() -> Any:
    from earmark.opendata.importer import DayDone

    started = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: DayDone) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done.report.rows() / elapsed
        eta = elapsed / done.index * (done.total - done.index)
        line = (
            f"{done.day} ({done.index}/{done.total} days) {done.report.rows()} rows, "
            f"{rate:.0f} rows/s, ETA {eta:.0f}s"
        )
        if tty:
            width = 30
            filled = width * done.index // max(done.total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}")
            if done.index == done.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        else:
            log.info("applied %s", line)

    return show


@data.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Per provenance and stream: the last day applied and the rows imported (the rows an
    import wrote are told from local submissions by the id map)."""
    from earmark.app import open_databases
    from earmark.db import opendata
    from earmark.db.engine import read_connection

    dbs = open_databases(loaded_settings(ctx).settings)
    try:
        with read_connection(dbs.fingerprint) as conn:
            progress = opendata.all_progress(conn)
            counts = opendata.imported_counts(conn)
    finally:
        dbs.dispose()
    if not progress:
        click.echo("no open data imported")
    for provenance, stream, day in progress:
        rows = counts.get((provenance, stream), 0)
        click.echo(f"{provenance}\t{stream}\t{day.isoformat()}\t{rows} rows")


@data.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--full", is_flag=True, help="A snapshot of every current row (one day's files).")
@click.pass_context
def export_cmd(ctx: click.Context, directory: Path, full: bool) -> None:
    """Write Earmark's public data to DIRECTORY in AcoustID's daily layout (plain JSON lines,
    index.json per directory). Finished days are never rewritten; today is left for tomorrow."""
    from earmark.app import open_databases
    from earmark.opendata.export import export_days, export_full

    settings = loaded_settings(ctx).settings
    dbs = open_databases(settings)
    try:
        today = dt.datetime.now(dt.UTC).date()
        if full:
            root = export_full(dbs.fingerprint, directory, today)
            click.echo(f"snapshot written to {root}")
        else:
            written = export_days(dbs.fingerprint, directory, today)
            click.echo(f"{len(written)} days written to {directory}")
    finally:
        dbs.dispose()
