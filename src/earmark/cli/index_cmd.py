"""`earmark index`: keep the fingerprint index in step with the fingerprint database."""

from __future__ import annotations

import sys

import click

from earmark.cli.context import loaded_settings

# The database layer and the index are imported by the commands (fast `earmark --help`).


@click.group("index")
def index() -> None:
    """Fill and synchronise the fingerprint index from the fingerprint database."""


@index.command("rebuild")
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Drop the index and index every stored fingerprint again (progress bar).

    With the embedded index (no index_url) stop `earmark serve` first: the index files belong
    to one process at a time.
    """
    from earmark import indexsync
    from earmark.app import open_databases, open_index
    from earmark.db import fingerprints
    from earmark.db.engine import read_connection

    settings = loaded_settings(ctx).settings
    dbs = open_databases(settings)
    handle = open_index(settings)
    try:
        with read_connection(dbs.fingerprint) as conn:
            total = fingerprints.count(conn)
        with click.progressbar(length=total, label="indexing", file=sys.stderr) as bar:

            def advance(count: int) -> None:
                bar.update(count)

            done = indexsync.rebuild(dbs, handle.client, handle.name, progress=advance)
        click.echo(f"indexed {done} fingerprints into {handle.name!r}")
    finally:
        handle.close()
        dbs.dispose()


@index.command("sync")
@click.pass_context
def sync(ctx: click.Context) -> None:
    """Send fingerprints still waiting in the outbox to the index (the importer does this too)."""
    from earmark import indexsync
    from earmark.app import open_databases, open_index

    settings = loaded_settings(ctx).settings
    dbs = open_databases(settings)
    handle = open_index(settings)
    try:
        sent = indexsync.flush_outbox(dbs, handle.client, handle.name)
        click.echo(f"sent {sent} fingerprints to {handle.name!r}")
    finally:
        handle.close()
        dbs.dispose()
