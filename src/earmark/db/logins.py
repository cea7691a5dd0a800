"""Named data functions of ``account_password`` (app database): the website's local sign-in.

A login is the name a person signs in with: unique, stored and compared in lower case, at most
:data:`LOGIN_MAX` characters. The hash is whatever :mod:`earmark.passwords` produced (argon2id);
this module never sees a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import accounts
from earmark.db.tables import account_password

LOGIN_MAX = 64


@dataclass(frozen=True, slots=True)
class Login:
    account_id: int
    login: str
    password_hash: str
    email: str | None


def normalise(login: str) -> str:
    """How a login is stored and compared."""
    return login.strip().lower()


def _login(row: sa.Row[Any]) -> Login:
    return Login(row.account_id, row.login, row.password_hash, row.email)


def get(conn: Connection, login: str) -> Login | None:
    """The local sign-in of ``login`` (any case)."""
    row = conn.execute(
        sa.select(account_password).where(account_password.c.login == normalise(login))
    ).first()
    return None if row is None else _login(row)


def get_by_account(conn: Connection, account_id: int) -> Login | None:
    row = conn.execute(
        sa.select(account_password).where(account_password.c.account_id == account_id)
    ).first()
    return None if row is None else _login(row)


def create_account(
    conn: Connection, login: str, password_hash: str, *, email: str | None = None
) -> accounts.Account | None:
    """A new account named ``login`` that signs in with it; None when the login is taken
    (the unique key decides, so two sign-ups racing for one name cannot both win)."""
    if get(conn, login) is not None:
        return None
    try:
        with conn.begin_nested():
            created = accounts.create(conn, name=login.strip(), created_from="web")
            conn.execute(
                sa.insert(account_password).values(
                    account_id=created.id,
                    login=normalise(login),
                    password_hash=password_hash,
                    email=email,
                )
            )
    except sa.exc.IntegrityError:
        if get(conn, login) is not None:
            return None
        raise
    return created


def set_password(
    conn: Connection, account_id: int, password_hash: str, *, login: str | None = None
) -> bool:
    """Store a new hash for an account; an account without a local sign-in gets one named
    ``login`` (required then). False when ``login`` belongs to another account."""
    found = get_by_account(conn, account_id)
    if found is not None:
        conn.execute(
            sa.update(account_password)
            .where(account_password.c.account_id == account_id)
            .values(password_hash=password_hash, updated=sa.func.now())
        )
        return True
    if login is None:
        raise ValueError("an account without a local sign-in needs a login")
    taken = get(conn, login)
    if taken is not None:
        return False
    conn.execute(
        sa.insert(account_password).values(
            account_id=account_id, login=normalise(login), password_hash=password_hash
        )
    )
    return True
