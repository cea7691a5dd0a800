"""``earmark apps``: applications and their client API keys; each belongs to an account. On any
configured database (the data directory of ``earmark serve`` or production PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from earmark.cli.accounts_cmd import find_account
from earmark.cli.admin_db import (
    NotFoundError,
    app_connection,
    checked_name,
    data_dir_option,
    echo_json,
    json_option,
    parse_id,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from earmark.db.applications import Application


def find_application(conn: Connection, given: str) -> Application:
    from earmark.db import applications

    application_id = parse_id(given)
    found = applications.get(conn, application_id) if application_id is not None else None
    if found is None:
        raise NotFoundError(f"no application {given.strip()[:100]!r} (see `earmark apps list`)")
    return found


def application_json(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "version": app.version,
        "account_id": app.account_id,
        "active": app.active,
        "email": app.email,
        "website": app.website,
        "created": app.created.isoformat(),
    }


@click.group("apps")
def apps_group() -> None:
    """Applications and their client API keys (every request names one)."""


@apps_group.command("create")
@click.argument("name")
@click.option("--account", "account", required=True, help="The owning account (id or name).")
@click.option("--version", "version", default="1.0", show_default=True, help="Its version.")
@click.option("--email", default=None, help="A contact address.")
@click.option("--website", default=None, help="Its website.")
@data_dir_option
@json_option
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    account: str,
    version: str,
    email: str | None,
    website: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Create an application called NAME for an account and print its client API key."""
    from earmark.db import applications

    name = checked_name(name, "application name")
    version = checked_name(version, "version")
    email = checked_name(email, "email", 254) if email is not None else None
    website = checked_name(website, "website", 1000) if website is not None else None
    with app_connection(ctx, data_dir, write=True) as conn:
        owner = find_account(conn, account)
        app = applications.create(
            conn, name=name, version=version, account_id=owner.id, email=email, website=website
        )
    if as_json:
        echo_json({**application_json(app), "apikey": app.apikey})
    else:
        click.echo(
            f"application {app.id} {app.name!r} created for account {owner.id} {owner.name!r}\n"
            f"client key: {app.apikey}"
        )


@apps_group.command("list")
@click.option("--account", "account", default=None, help="Only this account's (id or name).")
@data_dir_option
@json_option
@click.pass_context
def list_(ctx: click.Context, account: str | None, data_dir: Path | None, as_json: bool) -> None:
    """List the applications (without their keys; see `show-key`)."""
    from earmark.db import applications

    with app_connection(ctx, data_dir, write=False) as conn:
        if account is None:
            found = applications.list_all(conn)
        else:
            found = applications.list_by_account(conn, find_account(conn, account).id)
    if as_json:
        for app in found:
            echo_json(application_json(app))
        return
    for app in found:
        state = "" if app.active else "  (inactive)"
        click.echo(f"{app.id:>6}  {app.name} {app.version}  account {app.account_id}{state}")


@apps_group.command("show-key")
@click.argument("application")
@data_dir_option
@json_option
@click.pass_context
def show_key(ctx: click.Context, application: str, data_dir: Path | None, as_json: bool) -> None:
    """Print the client API key of APPLICATION (its id)."""
    with app_connection(ctx, data_dir, write=False) as conn:
        found = find_application(conn, application)
    if as_json:
        echo_json({**application_json(found), "apikey": found.apikey})
    else:
        click.echo(found.apikey)


def _set_active(ctx: click.Context, application: str, data_dir: Path | None, on: bool) -> None:
    from earmark.db import applications

    with app_connection(ctx, data_dir, write=True) as conn:
        found = find_application(conn, application)
        applications.set_active(conn, found.id, on)
    state = "active" if on else "deactivated: its client key is refused"
    click.echo(f"application {found.id} {found.name!r} {state}")


@apps_group.command("deactivate")
@click.argument("application")
@data_dir_option
@click.pass_context
def deactivate(ctx: click.Context, application: str, data_dir: Path | None) -> None:
    """Refuse the client key of APPLICATION from now on (running servers: within
    `key_cache_ttl`)."""
    _set_active(ctx, application, data_dir, False)


@apps_group.command("activate")
@click.argument("application")
@data_dir_option
@click.pass_context
def activate(ctx: click.Context, application: str, data_dir: Path | None) -> None:
    """Accept the client key of a deactivated APPLICATION again."""
    _set_active(ctx, application, data_dir, True)
