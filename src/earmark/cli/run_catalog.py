"""`earmark run catalog`: the catalog API alone, for production (uvicorn, one process)."""

from __future__ import annotations

import dataclasses

import click

from earmark.cli.context import loaded_settings
from earmark.errors import ConfigError


@click.command("catalog")
@click.option("--host", default=None, help="Listen address (default: setting catalog_host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="TCP port (default: catalog_port)."
)
@click.option("--access-log", is_flag=True, help="Log every request (off by default).")
@click.pass_context
def catalog(ctx: click.Context, host: str | None, port: int | None, access_log: bool) -> None:
    """Run the catalog API (music metadata lookups, search, batch) until SIGTERM/SIGINT.

    It reads the MusicBrainz mirror (musicbrainz_database_url; its search index is built by
    `earmark catalog index`) and the application keys of the app database, which must be
    migrated (`earmark db upgrade`). Rate limits are counted in Redis when redis_url is set.
    """
    # Imported here: only `earmark run catalog` itself loads the app and the server.
    from earmark.api.front import render_catalog_error
    from earmark.app import check_migrated
    from earmark.app_catalog import check_mirror, open_catalog
    from earmark.listen import bind_address
    from earmark.server import ServerOptions, serve
    from earmark.startup import wait_for_services

    settings = loaded_settings(ctx).settings
    options = ServerOptions.from_settings(
        settings,
        host=settings.catalog_host if host is None else host,
        port=settings.catalog_port if port is None else port,
        access_log=access_log,
        renderer=render_catalog_error,
    )
    # /health and /metrics are the catalog's own routes: no operations listener.
    options = dataclasses.replace(options, ops_address=None)
    # The address first: a port in use is one line, before any database is looked at.
    sock = bind_address(options.host, options.port)
    try:
        problem = check_mirror(settings)
        if problem is not None:
            raise ConfigError(problem)
        wait_for_services(settings, "catalog")
        check_migrated(settings)
        runtime = open_catalog(settings)
        try:
            status = serve(runtime.app, options, on_drain=lambda: None, sockets=[sock])
        finally:
            runtime.close()
    finally:
        sock.close()
    if status:
        ctx.exit(status)
