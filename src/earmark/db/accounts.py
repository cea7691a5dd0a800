"""Named data functions of the ``account`` table (app database): users and their API keys.

User API keys have the reference's shape (§6): 10 characters from ``[A-Za-z0-9]``, here drawn
with :mod:`secrets` one character at a time (about 59 bits), instead of the first 10 characters
of a base64 string with its ``/``, ``+`` and ``=`` removed.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db.tables import account

API_KEY_LENGTH = 10
_KEY_ALPHABET = string.ascii_letters + string.digits
ANONYMOUS_NAME = "Anonymous"
_KEY_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    apikey: str
    mbuser: str | None
    anonymous: bool
    is_admin: bool
    created: datetime
    lastlogin: datetime | None
    application_id: int | None
    application_version: str | None
    #: False: the user key is refused (``earmark accounts deactivate``).
    active: bool = True
    #: Granted by an admin; a MusicBrainz user name also makes a moderator (reference §9.4).
    is_moderator: bool = False


def generate_api_key() -> str:
    """A new random key of :data:`API_KEY_LENGTH` letters and digits."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(API_KEY_LENGTH))


def _account(row: sa.Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        apikey=row.apikey,
        mbuser=row.mbuser,
        anonymous=row.anonymous,
        is_admin=row.is_admin,
        created=row.created,
        lastlogin=row.lastlogin,
        application_id=row.application_id,
        application_version=row.application_version,
        active=row.active,
        is_moderator=row.is_moderator,
    )


def _one(conn: Connection, *where: sa.ColumnElement[bool]) -> Account | None:
    row = conn.execute(sa.select(account).where(*where).order_by(account.c.id).limit(1)).first()
    return None if row is None else _account(row)


def _insert_with_new_key(conn: Connection, values: dict[str, Any]) -> int:
    # A collision of 59-bit keys is practically impossible; a savepoint keeps the caller's
    # transaction usable if it happens anyway. Any other integrity error is the caller's.
    for _ in range(_KEY_ATTEMPTS):
        key = generate_api_key()
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    sa.insert(account).values(apikey=key, **values).returning(account.c.id)
                ).scalar_one()
            return int(new_id)
        except sa.exc.IntegrityError:
            if get_by_api_key(conn, key) is None:
                raise
    raise RuntimeError("could not generate a unique account API key")


def create(
    conn: Connection,
    *,
    name: str,
    anonymous: bool = False,
    mbuser: str | None = None,
    application_id: int | None = None,
    application_version: str | None = None,
    created_from: str | None = None,
    is_admin: bool = False,
) -> Account:
    """A new account with a fresh API key."""
    new_id = _insert_with_new_key(
        conn,
        {
            "name": name,
            "anonymous": anonymous,
            "mbuser": mbuser,
            "application_id": application_id,
            "application_version": application_version,
            "created_from": created_from,
            "is_admin": is_admin,
        },
    )
    created = get(conn, new_id)
    assert created is not None
    return created


def create_anonymous(
    conn: Connection,
    *,
    application_id: int | None,
    application_version: str | None,
    created_from: str | None,
) -> Account:
    """The account of ``/v2/user/create_anonymous`` (reference §5.5)."""
    return create(
        conn,
        name=ANONYMOUS_NAME,
        anonymous=True,
        application_id=application_id,
        application_version=application_version,
        created_from=created_from,
    )


def get(conn: Connection, account_id: int) -> Account | None:
    return _one(conn, account.c.id == account_id)


def get_by_api_key(conn: Connection, apikey: str) -> Account | None:
    """The account of a user API key (keys are compared exactly)."""
    return _one(conn, account.c.apikey == apikey)


def get_by_name(conn: Connection, name: str) -> Account | None:
    """The oldest account called ``name`` (names are not unique)."""
    return _one(conn, account.c.name == name)


def list_by_name(conn: Connection, name: str) -> list[Account]:
    """Every account called ``name``, oldest first (names are not unique)."""
    rows = conn.execute(sa.select(account).where(account.c.name == name).order_by(account.c.id))
    return [_account(row) for row in rows]


def get_by_mbuser(conn: Connection, mbuser: str) -> Account | None:
    """The account of a MusicBrainz user name, compared case-insensitively (reference §11.1)."""
    return _one(conn, sa.func.lower(account.c.mbuser) == mbuser.lower())


def find_or_create_by_mbuser(
    conn: Connection,
    mbuser: str,
    *,
    application_id: int | None = None,
    application_version: str | None = None,
    created_from: str | None = None,
) -> Account:
    """The account of a MusicBrainz user, created (named after the user) when new (§5.6)."""
    found = get_by_mbuser(conn, mbuser)
    if found is not None:
        return found
    return create(
        conn,
        name=mbuser,
        mbuser=mbuser,
        application_id=application_id,
        application_version=application_version,
        created_from=created_from,
    )


def regenerate_api_key(conn: Connection, account_id: int) -> str:
    """Give an account a new API key (the old one stops working); returns the new key."""
    for _ in range(_KEY_ATTEMPTS):
        key = generate_api_key()
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.update(account).where(account.c.id == account_id).values(apikey=key)
                )
            return key
        except sa.exc.IntegrityError:
            continue
    raise RuntimeError("could not generate a unique account API key")


def touch_login(conn: Connection, account_id: int) -> None:
    """Record a login (``lastlogin = now``)."""
    conn.execute(
        sa.update(account).where(account.c.id == account_id).values(lastlogin=sa.func.now())
    )


def list_all(conn: Connection, *, include_anonymous: bool = False) -> list[Account]:
    """Every account, oldest first; anonymous ones (``/v2/user/create_anonymous``, possibly
    very many) only when asked."""
    query = sa.select(account).order_by(account.c.id)
    if not include_anonymous:
        query = query.where(account.c.anonymous == sa.false())
    return [_account(row) for row in conn.execute(query)]


def set_active(conn: Connection, account_id: int, active: bool) -> bool:
    """Activate or deactivate an account (a deactivated account's user key is refused);
    False when there is no such account."""
    result = conn.execute(
        sa.update(account).where(account.c.id == account_id).values(active=active)
    )
    return result.rowcount > 0


def set_roles(
    conn: Connection,
    account_id: int,
    *,
    is_admin: bool | None = None,
    is_moderator: bool | None = None,
) -> bool:
    """Grant or revoke the admin and moderator roles (None: unchanged); False when there is
    no such account."""
    values = {
        name: value
        for name, value in (("is_admin", is_admin), ("is_moderator", is_moderator))
        if value is not None
    }
    if not values:
        return get(conn, account_id) is not None
    result = conn.execute(sa.update(account).where(account.c.id == account_id).values(**values))
    return result.rowcount > 0


def search(conn: Connection, text: str, *, limit: int = 50) -> list[Account]:
    """Named accounts whose name, MusicBrainz user name or API key contains ``text``
    (case-insensitively; ``%`` and ``_`` are plain characters), oldest first."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    matches = sa.or_(
        sa.func.lower(account.c.name).like(pattern, escape="\\"),
        sa.func.lower(account.c.mbuser).like(pattern, escape="\\"),
        sa.func.lower(account.c.apikey).like(pattern, escape="\\"),
    )
    query = (
        sa.select(account)
        .where(account.c.anonymous == sa.false(), matches)
        .order_by(account.c.id)
        .limit(limit)
    )
    return [_account(row) for row in conn.execute(query)]


def names_by_id(conn: Connection, account_ids: Iterable[int]) -> dict[int, str]:
    """The name of each existing account among ``account_ids`` (one query)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(account.c.id, account.c.name).where(account.c.id.in_(ids)))
    return {int(row.id): str(row.name) for row in rows}


def list_with_roles(conn: Connection) -> list[Account]:
    """Accounts that hold the admin or the moderator role, oldest first."""
    query = (
        sa.select(account)
        .where(sa.or_(account.c.is_admin == sa.true(), account.c.is_moderator == sa.true()))
        .order_by(account.c.id)
    )
    return [_account(row) for row in conn.execute(query)]
