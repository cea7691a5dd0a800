"""`earmark catalog`: the catalog API's search index, and catalog requests from the shell."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa

from earmark.cli.context import loaded_settings
from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import MusicBrainzDatabase


@click.group("catalog")
def catalog_group() -> None:
    """The catalog API's search index, and requests to the catalog from the command line."""


@catalog_group.command("index")
@click.pass_context
def index(ctx: click.Context) -> None:
    """Build (or rebuild) the search index of /search/track, /search/album, /search/artist.

    Reads the MusicBrainz mirror (musicbrainz_database_url) and writes the index tables next
    to it. Rebuild after importing a dump or after replication changed the mirror.
    """
    from earmark.musicbrainz.catalog_search import build_index

    database = MusicBrainzDatabase.from_settings(loaded_settings(ctx).settings)
    try:
        if not _has_mirror(database):
            raise MusicBrainzError(
                "no MusicBrainz tables at musicbrainz_database_url: run `earmark mb init` and "
                "`earmark mb import` (or `earmark mb load-sample`) first"
            )
        report = build_index(database)
    except sa.exc.OperationalError as exc:
        raise MusicBrainzError(
            f"cannot reach the MusicBrainz database: {' '.join(str(exc.orig).split())}"
        ) from None
    finally:
        database.dispose()
    counts = ", ".join(f"{count} {kind}s" for kind, count in report.rows.items())
    click.echo(f"search index built: {counts}")


@catalog_group.command("export-parquet")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def export_parquet(ctx: click.Context, directory: Path) -> None:
    """Write the catalog's data as Parquet files in DIRECTORY (for catalog_backend = duckdb).

    Reads the MusicBrainz mirror (musicbrainz_database_url) and its search index (`earmark
    catalog index` first). The files are written next to DIRECTORY and renamed into place: an
    earlier export there is replaced whole, never half. Restart the catalog to serve it.
    """
    from earmark.musicbrainz.columnar import export

    database = MusicBrainzDatabase.from_settings(loaded_settings(ctx).settings)
    try:
        if not _has_mirror(database):
            raise MusicBrainzError(
                "no MusicBrainz tables at musicbrainz_database_url: run `earmark mb init` and "
                "`earmark mb import` (or `earmark mb load-sample`) first"
            )
        report = export(database, directory)
    except sa.exc.OperationalError as exc:
        raise MusicBrainzError(
            f"cannot reach the MusicBrainz database: {' '.join(str(exc.orig).split())}"
        ) from None
    finally:
        database.dispose()
    rows = sum(report.rows.values())
    click.echo(
        f"Parquet export written to {report.directory}: {len(report.rows)} tables, "
        f"{rows} rows, {report.bytes / 1e6:.1f} MB"
    )


def _has_mirror(database: MusicBrainzDatabase) -> bool:
    schema = None if database.engine.dialect.name == "sqlite" else database.schema_name
    return sa.inspect(database.engine).has_table("recording", schema=schema)


@catalog_group.command("get")
@click.argument("path")
@click.pass_context
def get(ctx: click.Context, path: str) -> None:
    """Answer one catalog GET request in this process and print its JSON, e.g.
    `earmark catalog get /lookup/isrc/XSSYN5500001`.

    No server is started; the mirror of the settings is read directly (no key needed). The
    exit code is 1 when the answer is an error (the envelope is printed).
    """
    settings = loaded_settings(ctx).settings
    from earmark.settings import Secret

    # Counted in this process: no Redis round trip for a single request.
    status, body = asyncio.run(_get(dataclasses.replace(settings, redis_url=Secret("")), path))
    try:
        click.echo(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(body.decode("utf-8", "replace"))
    if status >= 400:
        sys.exit(1)


async def _get(settings: object, path: str) -> tuple[int, bytes]:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)

    from earmark.app_catalog import catalog_services, key_cache
    from earmark.catalog.app import create_catalog_app
    from earmark.db.engine import Databases
    from earmark.settings import Settings

    assert isinstance(settings, Settings)
    # This process is the only client: no rate limit on the anonymous tier.
    settings = dataclasses.replace(settings, catalog_anonymous_rate=1e9)
    dbs = Databases.from_settings(settings)
    mirror = MusicBrainzDatabase.from_settings(settings)
    services = catalog_services(settings, mirror=mirror, keys=key_cache(settings, dbs))
    app = create_catalog_app(services, own_lifespan=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            response = await client.get(path if path.startswith("/") else "/" + path)
            return response.status_code, response.content
    finally:
        services.threads.close(5.0)
        services.store.close()
        mirror.dispose()
        dbs.dispose()
