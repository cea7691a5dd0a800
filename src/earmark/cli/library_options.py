"""What ``earmark identify`` and ``earmark import-audio`` share: the options that reach a server
or a data directory and pace fingerprinting and requests, and the settings they start from."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from earmark.cli.context import loaded_settings
from earmark.library.client import DEFAULT_RATE
from earmark.library.local import LocalFactory
from earmark.library.progress import quiet_libraries
from earmark.settings import Settings

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
