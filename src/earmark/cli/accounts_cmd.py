"""``earmark accounts``: user accounts and their user API keys, on any configured database
(the data directory of ``earmark serve`` or production PostgreSQL)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

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

    from earmark.db.accounts import Account


def find_account(conn: Connection, given: str) -> Account:
    """The account of an id, or of a name when exactly one account has it."""
    from earmark.db import accounts

    account_id = parse_id(given)
    if account_id is not None:
        found = accounts.get(conn, account_id)
        if found is not None:
            return found
    # A control character names nothing (and PostgreSQL refuses a NUL in a text parameter).
    named = accounts.list_by_name(conn, given.strip()) if given.isprintable() else []
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(str(a.id) for a in named[:10])
        raise NotFoundError(
            f"{len(named)} accounts are called {given.strip()!r}: give an id ({ids})"
        )
    raise NotFoundError(f"no account {given.strip()[:100]!r} (see `earmark accounts list`)")


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "active": account.active,
        "admin": account.is_admin,
        "anonymous": account.anonymous,
        "created": account.created.isoformat(),
    }


@click.group("accounts")
def accounts_group() -> None:
    """User accounts and their user API keys (submissions are made as a user)."""


@accounts_group.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@data_dir_option
@json_option
@click.pass_context
def create(
    ctx: click.Context, name: str, admin: bool, data_dir: Path | None, as_json: bool
) -> None:
    """Create an account called NAME and print its user API key."""
    from earmark.db import accounts

    name = checked_name(name, "account name")
    with app_connection(ctx, data_dir, write=True) as conn:
        account = accounts.create(conn, name=name, is_admin=admin)
    if as_json:
        echo_json({**account_json(account), "apikey": account.apikey})
    else:
        click.echo(f"account {account.id} {account.name!r} created\nuser key: {account.apikey}")


@accounts_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Include anonymous accounts.")
@data_dir_option
@json_option
@click.pass_context
def list_(ctx: click.Context, everything: bool, data_dir: Path | None, as_json: bool) -> None:
    """List the accounts (without their keys; see `show-key`)."""
    from earmark.db import accounts

    with app_connection(ctx, data_dir, write=False) as conn:
        found = accounts.list_all(conn, include_anonymous=everything)
    if as_json:
        for account in found:
            echo_json(account_json(account))
        return
    for account in found:
        flags = [
            f for f, on in (("admin", account.is_admin), ("inactive", not account.active)) if on
        ]
        click.echo(
            f"{account.id:>6}  {account.name}" + (f"  ({', '.join(flags)})" if flags else "")
        )


@accounts_group.command("show-key")
@click.argument("account")
@data_dir_option
@json_option
@click.pass_context
def show_key(ctx: click.Context, account: str, data_dir: Path | None, as_json: bool) -> None:
    """Print the user API key of ACCOUNT (an id or a name)."""
    with app_connection(ctx, data_dir, write=False) as conn:
        found = find_account(conn, account)
    if as_json:
        echo_json({**account_json(found), "apikey": found.apikey})
    else:
        click.echo(found.apikey)


def _set_active(ctx: click.Context, account: str, data_dir: Path | None, active: bool) -> None:
    from earmark.db import accounts

    with app_connection(ctx, data_dir, write=True) as conn:
        found = find_account(conn, account)
        accounts.set_active(conn, found.id, active)
    state = "active" if active else "deactivated: its user key is refused"
    click.echo(f"account {found.id} {found.name!r} {state}")


@accounts_group.command("deactivate")
@click.argument("account")
@data_dir_option
@click.pass_context
def deactivate(ctx: click.Context, account: str, data_dir: Path | None) -> None:
    """Refuse the user key of ACCOUNT from now on (running servers: within `key_cache_ttl`)."""
    _set_active(ctx, account, data_dir, False)


@accounts_group.command("activate")
@click.argument("account")
@data_dir_option
@click.pass_context
def activate(ctx: click.Context, account: str, data_dir: Path | None) -> None:
    """Accept the user key of a deactivated ACCOUNT again."""
    _set_active(ctx, account, data_dir, True)


@accounts_group.command("set-password")
@click.argument("account")
@click.option(
    "--login",
    default=None,
    help="The name to sign in with when the account has none yet (default: its name).",
)
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from standard input.")
@data_dir_option
@click.pass_context
def set_password(
    ctx: click.Context, account: str, login: str | None, from_stdin: bool, data_dir: Path | None
) -> None:
    """Set the website password of ACCOUNT (an id or a name), asked twice.

    An account without a website sign-in (the administrator `earmark serve` creates, API
    accounts) gets one, named --login or after the account.
    """
    from earmark import passwords
    from earmark.db import logins

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = passwords.problem(password)
    if problem is not None:
        raise click.UsageError(problem)
    password_hash = passwords.hash_password(password)
    with app_connection(ctx, data_dir, write=True) as conn:
        found = find_account(conn, account)
        existing = logins.get_by_account(conn, found.id)
        name = existing.login if existing is not None else logins.normalise(login or found.name)
        if existing is None and not 0 < len(name) <= logins.LOGIN_MAX:
            raise click.UsageError(f"a login has 1 to {logins.LOGIN_MAX} characters: use --login")
        if not logins.set_password(conn, found.id, password_hash, login=name):
            raise click.UsageError(f"the login {name!r} belongs to another account: use --login")
    click.echo(f"account {found.id} {found.name!r} signs in to the website as {name!r}")
