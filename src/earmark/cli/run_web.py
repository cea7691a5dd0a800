"""`earmark run web`: the website alone, for production (uvicorn, one process)."""

from __future__ import annotations

import dataclasses

import click

from earmark.cli.context import loaded_settings


@click.command("web")
@click.option("--host", default=None, help="Listen address (default: setting web_host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="TCP port (default: web_port)."
)
@click.option("--access-log", is_flag=True, help="Log every request (off by default).")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None, access_log: bool) -> None:
    """Run the website (accounts, API keys, pages) until SIGTERM/SIGINT.

    It reads the same databases as the API (settings database_url and friends), needs
    web_secret (the same on every web process) and counts sign-in attempts in Redis when
    redis_url is set. The databases must be migrated (`earmark db upgrade`).
    """
    # Imported here: only `earmark run web` itself loads the app and the server.
    from earmark.app import check_web_production, open_web
    from earmark.listen import bind_address
    from earmark.server import ServerOptions, serve

    settings = loaded_settings(ctx).settings
    options = ServerOptions.from_settings(
        settings,
        host=settings.web_host if host is None else host,
        port=settings.web_port if port is None else port,
        access_log=access_log,
    )
    # The website has no health checks or /metrics of its own: no operations listener.
    options = dataclasses.replace(options, ops_address=None)
    # The address first: a port in use is one line, before any database is looked at.
    sock = bind_address(options.host, options.port)
    try:
        check_web_production(settings)
        runtime = open_web(settings)
        try:
            status = serve(runtime.app, options, on_drain=lambda: None, sockets=[sock])
        finally:
            runtime.close()
    finally:
        sock.close()
    if status:
        ctx.exit(status)
