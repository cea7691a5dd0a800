"""`earmark db`: create and migrate Earmark's own databases (app, fingerprint, ingest)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from earmark.cli.context import loaded_settings
from earmark.errors import EarmarkError

# SQLAlchemy and Alembic are imported by the functions that use them (fast `earmark --help`).
if TYPE_CHECKING:
    from earmark.db.engine import Databases


class DatabaseError(EarmarkError):
    exit_code = 3


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())


def _databases(ctx: click.Context) -> Databases:
    from earmark.db.engine import Databases

    return Databases.from_settings(loaded_settings(ctx).settings)


def _run(ctx: click.Context, action: str, revision: str) -> None:
    import sqlalchemy as sa

    from earmark.db import migrate

    dbs = _databases(ctx)
    # Alembic announces every step at INFO; the summary below says what happened.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if action == "upgrade":
            migrate.upgrade(dbs, revision)
        else:
            migrate.downgrade(dbs, revision)
        for found in migrate.current(dbs):
            click.echo(f"{found.url} ({', '.join(found.roles)}): {found.revision or 'base'}")
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot reach the database: {_one_line(exc.orig)}") from None
    except Exception as exc:  # alembic's CommandError and friends: one line, not a traceback
        if exc.__class__.__module__.startswith("alembic"):
            raise DatabaseError(str(exc)) from None
        raise
    finally:
        dbs.dispose()


@click.group("db")
def db() -> None:
    """Create and migrate the app, fingerprint and ingest databases."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate every database to REVISION (default: the newest, `head`)."""
    _run(ctx, "upgrade", revision)


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate every database back to REVISION (`base` drops every table)."""
    _run(ctx, "downgrade", revision)


@db.command("current")
@click.pass_context
def current(ctx: click.Context) -> None:
    """Show the revision of each database and the newest revision there is."""
    import sqlalchemy as sa

    from earmark.db import migrate

    dbs = _databases(ctx)
    try:
        for found in migrate.current(dbs):
            click.echo(f"{found.url} ({', '.join(found.roles)}): {found.revision or 'base'}")
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot reach the database: {_one_line(exc.orig)}") from None
    finally:
        dbs.dispose()
    click.echo(f"newest: {migrate.head()}")
