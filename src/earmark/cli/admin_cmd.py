"""``earmark admin``: the website's roles (admin, moderator), granted and revoked from the
command line on any configured database, as ``/admin/accounts`` does on the site.

The first admin of a production database has to come from here (or ``earmark accounts create
--admin``): the site lets only an admin make another one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from earmark.cli.accounts_cmd import account_json, find_account
from earmark.cli.admin_db import app_connection, data_dir_option, echo_json, json_option

if TYPE_CHECKING:
    from earmark.db.accounts import Account

ROLES = ("admin", "moderator")

role_option = click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="admin: sees /admin and changes roles and applications; moderator: links and "
    "unlinks MusicBrainz recordings on track pages.",
)


def roles_of(account: Account) -> list[str]:
    """The roles an account holds, a MusicBrainz user name counting as moderator (§9.4)."""
    held = [
        role
        for role, on in (("admin", account.is_admin), ("moderator", account.is_moderator))
        if on
    ]
    if account.mbuser and not account.is_moderator:
        held.append("moderator (MusicBrainz user)")
    return held


def _change(ctx: click.Context, given: str, role: str, grant: bool, data_dir: Path | None) -> None:
    from earmark.db import accounts

    with app_connection(ctx, data_dir, write=True) as conn:
        found = find_account(conn, given)
        if role == "admin":
            accounts.set_roles(conn, found.id, is_admin=grant)
        else:
            accounts.set_roles(conn, found.id, is_moderator=grant)
        changed = accounts.get(conn, found.id)
    assert changed is not None
    held = ", ".join(roles_of(changed)) or "no role"
    verb = "granted to" if grant else "revoked from"
    click.echo(f"{role} {verb} account {changed.id} {changed.name!r} (now: {held})")


@click.group("admin")
def admin_group() -> None:
    """The website's roles: grant and revoke admin and moderator, list who holds them."""


@admin_group.command("grant")
@click.argument("account")
@role_option
@data_dir_option
@click.pass_context
def grant(ctx: click.Context, account: str, role: str, data_dir: Path | None) -> None:
    """Give ACCOUNT (an id or a name) the role (nothing changes if it holds it already)."""
    _change(ctx, account, role, True, data_dir)


@admin_group.command("revoke")
@click.argument("account")
@role_option
@data_dir_option
@click.pass_context
def revoke(ctx: click.Context, account: str, role: str, data_dir: Path | None) -> None:
    """Take the role from ACCOUNT (an id or a name). A MusicBrainz user stays a moderator on
    the site whatever this says (reference §9.4)."""
    _change(ctx, account, role, False, data_dir)


@admin_group.command("list")
@data_dir_option
@json_option
@click.pass_context
def list_(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """List the accounts that hold the admin or the moderator role."""
    from earmark.db import accounts

    with app_connection(ctx, data_dir, write=False) as conn:
        found = accounts.list_with_roles(conn)
    for account in found:
        if as_json:
            echo_json({**account_json(account), "roles": roles_of(account)})
        else:
            click.echo(f"{account.id:>6}  {account.name}  ({', '.join(roles_of(account))})")
    if not found and not as_json:
        click.echo("no account holds a role (grant one: earmark admin grant ACCOUNT --role admin)")
