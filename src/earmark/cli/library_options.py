"""What ``earmark identify``, ``tag`` and ``import-audio`` share: the options that reach a server
or a data directory and pace fingerprinting and requests, the settings they start from, the
connection they open and how a file's result is printed below the progress bar."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from earmark.cli.context import loaded_settings
from earmark.library.client import DEFAULT_RATE
from earmark.library.local import LocalFactory
from earmark.library.progress import quiet_libraries
from earmark.settings import Settings

if TYPE_CHECKING:
    from earmark.library.connect import ServiceConnection

F = TypeVar("F", bound=Callable[..., object])

client_option = click.option(
    "--client",
    "client_key",
    metavar="KEY",
    help="Application (client) API key. Required with --server; default: the data "
    "directory's own key.",
)
jobs_option = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Fingerprinting processes (default: setting fingerprint_jobs; 0 = one per CPU).",
)
rate_option = click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=DEFAULT_RATE,
    show_default=True,
    help="Requests per second sent to --server at most (0: no pacing).",
)


def data_dir_option(purpose: str) -> Callable[[F], F]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Data directory to {purpose} without --server (default: setting data_dir).",
    )


def library_settings(ctx: click.Context, data_dir: Path | None) -> Settings:
    """The loaded settings, with ``--data-dir`` applied; noisy library loggers quietened."""
    settings = loaded_settings(ctx).settings
    quiet_libraries()
    if data_dir is not None:
        settings = dataclasses.replace(settings, data_dir=data_dir)
    return settings


def local_factory(server: str | None) -> LocalFactory | None:
    """The data directory's in-process service builder, loaded only when no ``--server`` is
    given (it imports the whole web app)."""
    if server:
        return None
    from earmark.app import local_service

    return local_service


@asynccontextmanager
async def library_connection(
    settings: Settings,
    server: str | None,
    client_key: str | None,
    rate: float,
    user_key: str | None = None,
) -> AsyncIterator[ServiceConnection]:
    """A connection to ``--server``, or to the data directory's service in this process."""
    # The in-process service behind connect() is the web app: loaded only when it is used.
    from earmark.library.connect import connect

    async with connect(
        settings,
        server=server,
        client_key=client_key,
        user_key=user_key,
        rate=rate,
        local=local_factory(server),
    ) as conn:
        yield conn


def fingerprint_jobs(settings: Settings, jobs: int | None) -> int:
    """Fingerprinting processes: ``--jobs``, else the ``fingerprint_jobs`` setting."""
    from earmark.library.fingerprints import default_jobs

    return default_jobs(settings.fingerprint_jobs if jobs is None else jobs)


def print_result(text: str, as_json: bool, shown: bool) -> None:
    """One file's result on stdout: a JSON line, or text blocks; the progress bar on stderr
    (``shown``) is cleared first so that the two do not mix on a terminal."""
    if shown:
        click.echo("\r\033[K", nl=False, err=True)
    click.echo(text, nl=as_json)
    if as_json:
        sys.stdout.flush()
