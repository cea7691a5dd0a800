"""What ``earmark accounts`` and ``earmark apps`` share: the app database they work on, the
checks of what a user types, and the output.

The database is the configured one (setting ``database_url``: production PostgreSQL, or by
default the SQLite file of the data directory), or the data directory of ``earmark serve``
given with ``--data-dir``. It must exist and be migrated: these commands never create one.
Heavy modules (SQLAlchemy, the data layer) are imported when a command runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from earmark.cli.context import loaded_settings
from earmark.errors import EarmarkError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

F = TypeVar("F", bound=Callable[..., object])

#: Names and versions are shown in lists and pages: one line, bounded.
MAX_NAME = 100
#: Ids are INTEGER columns; a larger number names nothing (and PostgreSQL would refuse it).
MAX_ID = 2**31 - 1


class NotFoundError(EarmarkError):
    """No account or application by that id or name (exit 1)."""


class DatabaseNotReadyError(EarmarkError):
    """The app database is missing, unreachable or not migrated (exit 3, as `earmark db`)."""

    exit_code = 3


def data_dir_option(function: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Work on the data directory of `earmark serve` instead of the configured "
        "database (setting database_url).",
    )(function)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextmanager
def app_connection(
    ctx: click.Context, data_dir: Path | None, *, write: bool
) -> Iterator[Connection]:
    """A connection to the app database (in a write transaction when ``write``)."""
    import sqlalchemy as sa

    from earmark import embedded
    from earmark.db import migrate
    from earmark.db.engine import (
        Databases,
        read_connection,
        redact,
        role_urls,
        write_transaction,
    )

    settings = loaded_settings(ctx).settings
    # Alembic announces its context at INFO when the revision is read: noise here.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    if data_dir is not None:
        settings = embedded.embedded_settings(settings, data_dir)
    url = role_urls(settings)["app"]
    parsed = sa.make_url(url) if "://" in url else None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.is_file():
            raise DatabaseNotReadyError(
                f"no database at {path}: run `earmark serve` (data directory) or "
                "`earmark db upgrade` (configured database) first"
            )
    dbs = Databases.single(url)
    try:
        if not migrate.is_current(dbs):
            raise DatabaseNotReadyError(
                f"{redact(url)} is not at the newest revision: run `earmark db upgrade`"
            )
        opened = write_transaction(dbs.app) if write else read_connection(dbs.app)
        with opened as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        raise DatabaseNotReadyError(
            f"cannot reach the database: {reason} (a new database: create it, then run "
            "`earmark db upgrade`; see docs/serving.md)"
        ) from None
    finally:
        dbs.dispose()


def checked_name(value: str, what: str, limit: int = MAX_NAME) -> str:
    """A name as typed, stripped; refused when empty, too long or holding control characters."""
    name = value.strip()
    if not name:
        raise click.BadParameter(f"the {what} must not be empty")
    if len(name) > limit:
        raise click.BadParameter(f"the {what} is longer than {limit} characters")
    if any(not char.isprintable() for char in name):
        raise click.BadParameter(f"the {what} must not contain control characters")
    return name


def parse_id(value: str) -> int | None:
    """``value`` as a row id, or None when it is not one (a name, a number out of range)."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, sort_keys=True, default=str))
