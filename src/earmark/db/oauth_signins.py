"""Named data functions of the website's sign-in through OAuth providers (app database).

- ``oauth_state``: a sign-in started at a provider. Only hashes are stored (of the ``state``
  sent to the provider and of the session id), so a copy of the table starts nobody's sign-in.
  :func:`take_state` deletes the row it returns: a state works once, whoever presents it.
- ``account_oidc``: which account an OpenID Connect identity (issuer, subject) signs in to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import accounts
from earmark.db.tables import account_oidc, oauth_state

#: Sign-ins started and not finished that one table may hold; past it, starting one fails
#: (``save_state`` returns False) until some expire. A bound on what a flood of starts can
#: store, far above what people signing in need.
MAX_PENDING = 100_000


def digest(text: str) -> str:
    """How states and session ids are stored: SHA-256, hex."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    session_hash: str
    provider: str
    return_url: str
    expires: int


def save_state(
    conn: Connection,
    *,
    state: str,
    session_id: str,
    provider: str,
    return_url: str,
    expires: int,
    now: int,
) -> bool:
    """Remember a sign-in started by the session ``session_id`` at ``provider``, until the
    epoch second ``expires``. Expired rows are dropped first. False when the table is full."""
    conn.execute(sa.delete(oauth_state).where(oauth_state.c.expires <= now))
    pending = conn.execute(sa.select(sa.func.count()).select_from(oauth_state)).scalar_one()
    if pending >= MAX_PENDING:
        return False
    conn.execute(
        sa.insert(oauth_state).values(
            state_hash=digest(state),
            session_hash=digest(session_id),
            provider=provider,
            return_url=return_url,
            expires=expires,
        )
    )
    return True


def take_state(conn: Connection, state: str) -> PendingSignIn | None:
    """The sign-in of ``state``, deleted in the same statement (so two requests presenting
    one state cannot both get it); None when there is none. The caller checks the session,
    the provider and ``expires``."""
    row = conn.execute(
        sa.delete(oauth_state)
        .where(oauth_state.c.state_hash == digest(state))
        .returning(
            oauth_state.c.session_hash,
            oauth_state.c.provider,
            oauth_state.c.return_url,
            oauth_state.c.expires,
        )
    ).first()
    if row is None:
        return None
    return PendingSignIn(row.session_hash, row.provider, row.return_url, row.expires)


def get_by_oidc(conn: Connection, issuer: str, subject: str) -> accounts.Account | None:
    """The account an OpenID Connect identity signs in to."""
    account_id = conn.execute(
        sa.select(account_oidc.c.account_id).where(
            account_oidc.c.issuer == issuer, account_oidc.c.subject == subject
        )
    ).scalar()
    return None if account_id is None else accounts.get(conn, account_id)


def find_or_create_by_oidc(
    conn: Connection, issuer: str, subject: str, *, name: str, email: str | None = None
) -> accounts.Account:
    """The account of an OpenID Connect identity, created (named ``name``) when new. The
    identity is the primary key: of two first sign-ins racing, the second fails here and
    finds the first's account when the caller retries."""
    found = get_by_oidc(conn, issuer, subject)
    if found is not None:
        return found
    with conn.begin_nested():
        created = accounts.create(conn, name=name, created_from="web:oidc")
        conn.execute(
            sa.insert(account_oidc).values(
                issuer=issuer, subject=subject, account_id=created.id, email=email
            )
        )
    return created
