"""`earmark run api`: the web service alone, for production (uvicorn, one or more workers)."""

from __future__ import annotations

import functools
import logging
import socket
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from earmark.cli.context import loaded_settings, warn_if_numpy_fallback
from earmark.settings import Settings

# The web app, the server and the metrics are imported in the functions that use them, so
# that only `earmark run api` itself loads them.
if TYPE_CHECKING:
    from earmark.server import ServerOptions, WorkerTarget

log = logging.getLogger(__name__)

#: Seconds a worker gets to stop beyond the drain delay before the supervisor kills it.
_STOP_MARGIN_S = 10.0


@click.command("api")
@click.option("--host", default=None, help="Listen address (default: setting api_host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="TCP port (default: api_port)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes sharing the port (default: setting api_workers).",
)
@click.option("--access-log", is_flag=True, help="Log every request (off by default).")
@click.pass_context
def api(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, access_log: bool
) -> None:
    """Run the web service (the /v2 and /v1 APIs, health, metrics) until SIGTERM/SIGINT.

    Databases, the index server, the queue, Redis and the rates all come from the settings;
    the importer and the cron are their own processes (`earmark run importer`, `earmark run
    cron`). The databases must be migrated (`earmark db upgrade`) and index_url set.
    """
    from earmark.api.front import render_front_error
    from earmark.app import check_production
    from earmark.server import ServerOptions

    settings = loaded_settings(ctx).settings
    options = ServerOptions.from_settings(
        settings, host=host, port=port, access_log=access_log, renderer=render_front_error
    )
    count = workers or settings.api_workers
    # The addresses first: a port in use is one line, before any database is looked at.
    sock = take_address(options.host, options.port, count)
    ops: socket.socket | None = None
    try:
        if options.ops_address is not None:
            ops = take_address(*options.ops_address, count)
        warn_if_numpy_fallback()
        check_production(settings)
        if count == 1:
            status = _serve_here(settings, options, sock, ops)
        else:
            status = _serve_workers(settings, options, count, sock, ops)
    finally:
        sock.close()
        if ops is not None:
            ops.close()
    if status:
        ctx.exit(status)


def take_address(host: str, port: int, count: int) -> socket.socket:
    """The listening address of ``count`` processes (one: listening here; more: held for the
    workers); a port in use is a :class:`~earmark.listen.ListenError`."""
    from earmark.listen import bind_address, listen_error
    from earmark.server import bind_socket

    if count == 1:
        return bind_address(host, port)
    try:
        return bind_socket(host, port)
    except OSError as exc:
        raise listen_error(host, port, exc) from None


def _serve_here(
    settings: Settings, options: ServerOptions, sock: socket.socket, ops: socket.socket | None
) -> int:
    from earmark.app import open_production
    from earmark.server import serve

    runtime = open_production(settings)
    try:
        return serve(
            runtime.app,
            options,
            on_drain=runtime.services.health.begin_shutdown,
            sockets=[sock],
            ops_app=runtime.ops_app,
            ops_socket=ops,
        )
    finally:
        runtime.close()


def _serve_workers(
    settings: Settings,
    options: ServerOptions,
    count: int,
    sock: socket.socket,
    ops: socket.socket | None,
) -> int:
    host, port = sock.getsockname()[:2]
    log.info("listening on %s:%d with %d workers", host, port, count)
    if ops is not None:
        log.info("operations (/metrics, health) on %s:%d", *ops.getsockname()[:2])
    return supervise(functools.partial(_worker, settings, options, ops), sock, count, options)


def supervise(target: WorkerTarget, sock: socket.socket, count: int, options: ServerOptions) -> int:
    """Run ``count`` worker processes of ``target`` on ``sock`` until SIGTERM/SIGINT (see
    :func:`earmark.server.run_workers`), their Prometheus metrics summed across them; closes
    ``sock``. ``earmark run catalog --workers N`` uses it too."""
    from earmark.api.metrics import prepare_multiprocess
    from earmark.server import run_workers

    # The workers write their metrics to files here; any worker answering /metrics sums them.
    with tempfile.TemporaryDirectory(prefix="earmark-metrics-") as metrics_dir:
        prepare_multiprocess(metrics_dir)
        try:
            return run_workers(
                target,
                sock,
                count,
                stop_timeout=options.shutdown_delay + options.graceful_timeout + _STOP_MARGIN_S,
                on_worker_exit=functools.partial(_forget_worker, metrics_dir),
            )
        finally:
            sock.close()


def _forget_worker(metrics_dir: str, pid: int) -> None:
    from prometheus_client import multiprocess

    # Counters of a dead worker keep counting in the sums; its live gauges must go.
    multiprocess.mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]


def _worker(
    settings: Settings,
    options: ServerOptions,
    ops: socket.socket | None,
    sock: socket.socket,
    parent: int,
    ready: Callable[[], None],
) -> int:
    """One worker process (spawned): its own connections, and its listening socket on the
    supervisor's address.

    ``ready`` tells the supervisor the app started: from then on an exit 3 of a replacement is
    a passing outage (restarted with backoff), not a configuration that can never work.
    """
    from earmark.app import open_production
    from earmark.logs import configure_logging
    from earmark.server import STARTUP_FAILURE, serve, worker_socket

    configure_logging(settings.log_level, settings.log_format)
    try:
        runtime = open_production(settings)
    except Exception:
        # Exit 3: fatal during the initial spawn, restarted with backoff once the service ran.
        log.exception("the worker could not start")
        return STARTUP_FAILURE
    try:
        return serve(
            runtime.app,
            options,
            on_drain=runtime.services.health.begin_shutdown,
            sockets=[worker_socket(sock)],
            parent_pid=parent,
            on_started=lambda _port: ready(),
            ops_app=runtime.ops_app,
            ops_socket=None if ops is None else worker_socket(ops),
        )
    finally:
        runtime.close()
