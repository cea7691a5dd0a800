"""`earmark run catalog`: the catalog API alone, for production (uvicorn, one or more workers)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from earmark.cli.context import loaded_settings
from earmark.errors import ConfigError
from earmark.settings import Settings

if TYPE_CHECKING:
    from earmark.app_catalog import CatalogRuntime
    from earmark.server import ServerOptions

log = logging.getLogger(__name__)


@click.command("catalog")
@click.option("--host", default=None, help="Listen address (default: setting catalog_host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="TCP port (default: catalog_port)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes sharing the port (default: setting catalog_workers).",
)
@click.option("--access-log", is_flag=True, help="Log every request (off by default).")
@click.pass_context
def catalog(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, access_log: bool
) -> None:
    """Run the catalog API (music metadata lookups, search, batch) until SIGTERM/SIGINT.

    It reads the MusicBrainz mirror (musicbrainz_database_url; its search index is built by
    `earmark catalog index`) and the application keys of the app database, which must be
    migrated (`earmark db upgrade`). Rate limits are counted in Redis when redis_url is set.
    With several workers, /metrics answers the sum over all of them.
    """
    # Imported here: only `earmark run catalog` itself loads the app and the server.
    from earmark.api.front import render_catalog_error
    from earmark.app import check_migrated
    from earmark.app_catalog import check_mirror, open_catalog
    from earmark.cli.run_api import supervise, take_address
    from earmark.server import ServerOptions
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
    count = workers or settings.catalog_workers
    # The address first: a port in use is one line, before any database is looked at.
    sock = take_address(options.host, options.port, count)
    try:
        problem = check_mirror(settings)
        if problem is not None:
            raise ConfigError(problem)
        wait_for_services(settings, "catalog")
        check_migrated(settings)
        if count == 1:
            status = _serve(open_catalog(settings), options, sock)
        else:
            log.info("listening on %s:%d with %d workers", *sock.getsockname()[:2], count)
            status = supervise(functools.partial(_worker, settings, options), sock, count, options)
    finally:
        sock.close()
    if status:
        ctx.exit(status)


def _serve(
    runtime: CatalogRuntime,
    options: ServerOptions,
    sock: socket.socket,
    parent: int | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Serve ``runtime``'s app on ``sock`` until a signal, then close the runtime."""
    from earmark.server import serve

    try:
        return serve(
            runtime.app,
            options,
            on_drain=lambda: None,
            sockets=[sock],
            parent_pid=parent,
            on_started=None if ready is None else lambda _port: ready(),
        )
    finally:
        runtime.close()


def _worker(
    settings: Settings,
    options: ServerOptions,
    sock: socket.socket,
    parent: int,
    ready: Callable[[], None],
) -> int:
    """One worker process (spawned): its own connections, and its listening socket on the
    supervisor's address; exit 3 when the catalog cannot open (see ``run_workers``)."""
    from earmark.app_catalog import open_catalog
    from earmark.logs import configure_logging
    from earmark.server import STARTUP_FAILURE, worker_socket

    configure_logging(settings.log_level, settings.log_format)
    try:
        runtime = open_catalog(settings)
    except Exception:
        # Exit 3: fatal during the initial spawn, restarted with backoff once the service ran.
        log.exception("the worker could not start")
        return STARTUP_FAILURE
    return _serve(runtime, options, worker_socket(sock), parent, ready)
