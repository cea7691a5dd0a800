"""`earmark serve`: the all-in-one service (API, importer, cron, index) in one process."""

from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click

from earmark.cli.context import loaded_settings, warn_if_numpy_fallback
from earmark.datadir_lock import INDEX_DIR, claim_data_dir, lock_data_dir
from earmark.listen import bind_address

if TYPE_CHECKING:
    from earmark.embedded import LocalKeys

log = logging.getLogger(__name__)


@click.command("serve")
@click.option("--host", default=None, help="Listen address (default: setting api_host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="TCP port (default: setting api_port, 8080; 0 picks a free one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the databases and the index live, created on the first run "
    "(default: setting data_dir).",
)
@click.option("--access-log", is_flag=True, help="Log every request (off by default).")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None, access_log: bool
) -> None:
    """Run Earmark's web service with everything inside, on http://127.0.0.1:8080.

    SQLite databases, the fingerprint index, the importer and the background jobs all run in
    this process, with their data in the data directory. The first run creates the directory,
    an administrator account and an application; every start prints their keys. SIGTERM or
    Ctrl+C stops it gracefully (/_health answers 503 for shutdown_delay seconds first).
    """
    # Imported here, not at the top: `earmark --help` and other commands do not load the app.
    from earmark import embedded
    from earmark.app import open_embedded
    from earmark.server import ServerOptions
    from earmark.server import serve as run_server

    configured = loaded_settings(ctx).settings
    ignored = embedded.overridden(configured)
    if ignored:
        log.warning(
            "earmark serve keeps everything in its data directory and ignores: %s "
            "(use `earmark run api` and friends for such a deployment)",
            ", ".join(ignored),
        )
    settings = embedded.embedded_settings(configured, data_dir)
    from earmark.api.front import render_front_error

    options = ServerOptions.from_settings(
        settings, host=host, port=port, access_log=access_log, renderer=render_front_error
    )
    with contextlib.ExitStack() as held:
        # The address and the data directory are taken before anything is created in either:
        # a port in use or a directory another process serves ends here, in one line.
        sockets: list[socket.socket] = []
        ops_socket: list[socket.socket] = []

        def take_address() -> None:
            sock = bind_address(options.host, options.port)
            held.callback(sock.close)  # the server closes it too; this is for a failed start
            sockets.append(sock)

        def take_addresses() -> None:
            take_address()
            if options.ops_address is not None:
                ops = bind_address(*options.ops_address)
                held.callback(ops.close)
                ops_socket.append(ops)

        held.enter_context(claim_data_dir(settings.data_dir, take_addresses))
        held.enter_context(lock_data_dir(settings.data_dir / INDEX_DIR, create=True))
        warn_if_numpy_fallback()
        ready = embedded.initialise(settings)
        if ready.created:
            click.echo(f"Initialised {settings.data_dir.resolve()}: administrator account created.")
        from earmark.app_web import with_web_secret

        settings = with_web_secret(settings, ready.web_secret)
        runtime = open_embedded(settings)
        try:
            status = run_server(
                runtime.app,
                options,
                on_drain=runtime.services.health.begin_shutdown,
                on_started=lambda bound: click.echo(
                    banner(
                        options.host,
                        bound,
                        ready.keys,
                        None if ready.admin_has_password else settings.data_dir,
                    )
                ),
                sockets=sockets,
                ops_app=runtime.ops_app,
                ops_socket=ops_socket[0] if ops_socket else None,
            )
        finally:
            runtime.close()
    if status:
        ctx.exit(status)


def base_url(host: str, port: int) -> str:
    """The URL to call the service at (a wildcard address is reached on the loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def banner(host: str, port: int, keys: LocalKeys, no_password: Path | None = None) -> str:
    """What ``serve`` prints once listening; ``no_password``: the data directory, when its
    administrator has no website password yet (the banner says how to set one)."""
    from earmark.embedded import ADMIN_NAME

    url = base_url(host, port)
    sign_in = f"Website: {url}/ (sign in as {ADMIN_NAME!r})\n"
    if no_password is not None:
        sign_in = (
            f"Website: {url}/ ; to sign in there as {ADMIN_NAME!r}, set its password once:\n"
            f"  earmark accounts set-password {ADMIN_NAME} --data-dir {no_password}\n"
        )
    return (
        f"Earmark is running at {url}\n"
        f"  client key: {keys.client}\n"
        f"  user key:   {keys.user}\n"
        f"Try: curl '{url}/v2/lookup?client={keys.client}&trackid=<track id>'\n"
        f"{sign_in}"
        "Press Ctrl+C to stop."
    )
