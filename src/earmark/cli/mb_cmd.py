"""`earmark mb`: create and fill the MusicBrainz subset that lookups read metadata from."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import sqlalchemy as sa

from earmark.cli.context import loaded_settings
from earmark.db.engine import redact
from earmark.musicbrainz import catalog_search, dump, sample, synthetic
from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import MusicBrainzDatabase


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())


@contextmanager
def _database(ctx: click.Context) -> Iterator[MusicBrainzDatabase]:
    """The configured mirror, with unreachable databases reported in one line."""
    database = MusicBrainzDatabase.from_settings(loaded_settings(ctx).settings)
    try:
        yield database
    except sa.exc.OperationalError as exc:
        raise MusicBrainzError(
            f"cannot reach the MusicBrainz database: {_one_line(exc.orig)}"
        ) from None
    except sa.exc.DBAPIError as exc:  # permissions, a foreign schema: one line, no traceback
        raise MusicBrainzError(f"MusicBrainz database error: {_one_line(exc.orig)}") from None
    finally:
        database.dispose()


def _where(database: MusicBrainzDatabase) -> str:
    url = redact(database.engine.url.render_as_string(hide_password=False))
    if database.engine.dialect.name == "sqlite":
        return url
    return f"{url} (schema {database.schema_name})"


@click.group("mb")
def mb() -> None:
    """Create and fill the MusicBrainz subset used for lookup metadata."""


@mb.command("init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the MusicBrainz lookup tables (idempotent).

    34 tables, the release_event view and three mirror indexes, in musicbrainz_database_url
    (PostgreSQL: in the schema musicbrainz_schema, created when missing).
    """
    with _database(ctx) as database:
        created = database.create_schema()
        what = f"created {len(created)} tables" if created else "all tables already present"
        click.echo(f"{_where(database)}: {what}")


@mb.command("load-sample")
@click.option(
    "--synthetic",
    "count",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help=f"Also add this many synthetic recordings (0: none; at least {synthetic.MIN_COUNT}).",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Seed of the synthetic generator."
)
@click.pass_context
def load_sample(ctx: click.Context, count: int, seed: int) -> None:
    """Load mbdata's sample data, optionally plus synthetic data.

    The sample is real MusicBrainz data: 41 recordings on 2 releases. Running it again loads
    nothing new.
    """
    if 0 < count < synthetic.MIN_COUNT:
        raise click.BadParameter(
            f"use 0 or at least {synthetic.MIN_COUNT}", param_hint="--synthetic"
        )
    with _database(ctx) as database:
        database.create_schema()
        with database.write() as conn:
            loaded = sample.load_sample(conn)
        where = _where(database)
        if loaded.loaded:
            database.analyze()
            click.echo(f"{where}: loaded mbdata's sample ({_rows(loaded.rows)})")
        else:
            click.echo(f"{where}: mbdata's sample is already loaded")
        if count:
            with database.write() as conn:
                if synthetic.synthetic_loaded(conn):
                    click.echo(f"{where}: synthetic data is already loaded (use a fresh database)")
                    return
                generated = synthetic.generate(conn, count, seed)
            database.analyze()
            click.echo(
                f"{where}: added {count} synthetic recordings, seed {seed} "
                f"({_rows(generated.rows)})"
            )
        if loaded.loaded or count:
            _build_search_index(database)


@mb.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_dump(ctx: click.Context, path: Path) -> None:
    """Load the lookup tables from a MusicBrainz mbdump.tar.bz2.

    Streams PATH (a full export), loads the lookup tables in one transaction and skips the
    rest. The tables must be empty.
    """
    with _database(ctx) as database:
        database.create_schema()
        with database.read() as conn:
            dump.refuse_filled_tables(conn)  # before the progress bar starts
        label = f"reading {path.name}"
        with click.progressbar(length=path.stat().st_size, label=label, file=sys.stderr) as bar:
            report = dump.import_dump(
                database.engine, path, schema_name=database.schema_name, progress=bar.update
            )
        click.echo(f"{_where(database)}: imported {_rows(report.rows)}")
        if report.schema_sequence is not None:
            click.echo(f"schema sequence {report.schema_sequence}")
        _build_search_index(database)


def _build_search_index(database: MusicBrainzDatabase) -> None:
    """The catalog API's search index follows a load (`earmark catalog index` rebuilds it)."""
    report = catalog_search.build_index(database)
    counts = ", ".join(f"{count} {kind}s" for kind, count in report.rows.items())
    click.echo(f"{_where(database)}: search index built ({counts})")


def _rows(rows: dict[str, int]) -> str:
    total = sum(rows.values())
    return f"{total} rows in {len(rows)} tables"


@mb.command("replicate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory of packet files (default: musicbrainz_replication_dir).",
)
@click.option(
    "--url", help="Base URL of the packets (default: musicbrainz_replication_url; token: setting)."
)
@click.option(
    "--once/--until-current",
    default=False,
    help="Apply at most the next packet, or (the default) packets until the next one is not "
    "published yet.",
)
@click.pass_context
def replicate(ctx: click.Context, directory: Path | None, url: str | None, once: bool) -> None:
    """Apply MusicBrainz replication packets to the lookup tables.

    Starts at the packet after the mirror's replication sequence; each packet is applied in
    one transaction with the sequence, so an interrupted run simply runs again. A gap in the
    packets or a packet of another MusicBrainz schema stops with an error.
    """
    from earmark.musicbrainz import replication, replication_source

    if directory is not None and url is not None:
        raise click.UsageError("give --dir or --url, not both")
    settings = loaded_settings(ctx).settings
    source = replication_source.configured_source(settings, url=url, directory=directory)
    if source is None:
        raise click.UsageError(
            "no packet source: give --dir or --url, or set musicbrainz_replication_url or "
            "musicbrainz_replication_dir"
        )
    try:
        with _database(ctx) as database:
            click.echo(f"{_where(database)}: replicating from {source.describe()}")
            run = replication.replicate(
                database,
                source,
                max_packets=1 if once else None,
                on_packet=lambda applied: click.echo(applied.summary()),
            )
    finally:
        if isinstance(source, replication_source.UrlSource):
            source.close()
    state = run.state
    when = state.last_replication_date.isoformat() if state.last_replication_date else "unknown"
    status = "current" if run.current else "more packets may follow"
    click.echo(
        f"applied {len(run.packets)} packets; replication sequence "
        f"{state.replication_sequence} of {when} ({status})"
    )
