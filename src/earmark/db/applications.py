"""Named data functions of the ``application`` table (app database): client API keys.

A client key is valid only while its application is ``active`` (reference §6). Keys have the
same shape as user keys (:func:`earmark.db.accounts.generate_api_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db.accounts import generate_api_key
from earmark.db.tables import application, stats_lookups

_KEY_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    name: str
    version: str
    apikey: str
    active: bool
    account_id: int
    email: str | None
    website: str | None
    created: datetime


def _application(row: sa.Row[Any]) -> Application:
    return Application(
        id=row.id,
        name=row.name,
        version=row.version,
        apikey=row.apikey,
        active=row.active,
        account_id=row.account_id,
        email=row.email,
        website=row.website,
        created=row.created,
    )


def create(
    conn: Connection,
    *,
    name: str,
    version: str,
    account_id: int,
    email: str | None = None,
    website: str | None = None,
) -> Application:
    """A new, active application with a fresh client key."""
    for _ in range(_KEY_ATTEMPTS):
        key = generate_api_key()
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    sa.insert(application)
                    .values(
                        name=name,
                        version=version,
                        apikey=key,
                        account_id=account_id,
                        email=email,
                        website=website,
                    )
                    .returning(application.c.id)
                ).scalar_one()
            break
        except sa.exc.IntegrityError:
            # Retry only a key collision; anything else (an unknown account) is the caller's.
            if get_by_api_key(conn, key) is None:
                raise
    else:
        raise RuntimeError("could not generate a unique application API key")
    created = get(conn, int(new_id))
    assert created is not None
    return created


def get(conn: Connection, application_id: int) -> Application | None:
    row = conn.execute(sa.select(application).where(application.c.id == application_id)).first()
    return None if row is None else _application(row)


def get_by_api_key(conn: Connection, apikey: str) -> Application | None:
    """The application of a client key, active or not (check :attr:`Application.active`)."""
    row = conn.execute(sa.select(application).where(application.c.apikey == apikey)).first()
    return None if row is None else _application(row)


def list_by_account(conn: Connection, account_id: int) -> list[Application]:
    rows = conn.execute(
        sa.select(application)
        .where(application.c.account_id == account_id)
        .order_by(application.c.id)
    ).all()
    return [_application(r) for r in rows]


def list_all(conn: Connection) -> list[Application]:
    """Every application, oldest first."""
    rows = conn.execute(sa.select(application).order_by(application.c.id)).all()
    return [_application(r) for r in rows]


def set_active(conn: Connection, application_id: int, active: bool) -> bool:
    """Activate or deactivate an application's key; False when there is no such application."""
    result = conn.execute(
        sa.update(application).where(application.c.id == application_id).values(active=active)
    )
    return result.rowcount > 0


def update(
    conn: Connection,
    application_id: int,
    *,
    name: str,
    version: str,
    email: str | None,
    website: str | None,
) -> bool:
    """Change an application's descriptive fields; False when there is no such application."""
    result = conn.execute(
        sa.update(application)
        .where(application.c.id == application_id)
        .values(name=name, version=version, email=email, website=website)
    )
    return result.rowcount > 0


def ids_by_api_keys(conn: Connection, apikeys: Iterable[str]) -> dict[str, int]:
    """The application id of each known client key among ``apikeys``, active or not
    (``/v2/internal/lookup_stats`` reports the history of deactivated applications too)."""
    keys = sorted(set(apikeys))
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(application.c.apikey, application.c.id).where(application.c.apikey.in_(keys))
    ).all()
    return {r.apikey: int(r.id) for r in rows}


# --- lookups of an application (the drained counters in stats_lookups) -------------------------


@dataclass(frozen=True, slots=True)
class LookupTotals:
    """Lookups of one application over some period: with results (hits) and without."""

    hits: int = 0
    misses: int = 0

    @property
    def total(self) -> int:
        return self.hits + self.misses


@dataclass(frozen=True, slots=True)
class MonthlyLookups:
    """Lookups of one application in one calendar month (UTC)."""

    #: The first day of the month.
    month: date
    totals: LookupTotals


def lookup_totals_since(
    conn: Connection, application_ids: Iterable[int], since: date
) -> dict[int, LookupTotals]:
    """Lookups of each of ``application_ids`` from ``since`` on (drained counts only);
    applications without any are left out."""
    ids = sorted(set(application_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(
            stats_lookups.c.application_id,
            sa.func.sum(stats_lookups.c.count_hits),
            sa.func.sum(stats_lookups.c.count_nohits),
        )
        .where(stats_lookups.c.application_id.in_(ids), stats_lookups.c.date >= since)
        .group_by(stats_lookups.c.application_id)
    ).all()
    return {int(app): LookupTotals(int(hits), int(misses)) for app, hits, misses in rows}


def _month_of(conn: Connection) -> sa.ColumnElement[str]:
    """``stats_lookups.date`` as ``YYYY-MM`` text, in this database's dialect."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(stats_lookups.c.date, "YYYY-MM")
    return sa.func.strftime("%Y-%m", stats_lookups.c.date)


def monthly_lookups(conn: Connection, application_id: int, since: date) -> list[MonthlyLookups]:
    """Lookups of one application per calendar month from ``since`` on, newest month first;
    months without lookups are left out."""
    month = _month_of(conn).label("month")
    rows = conn.execute(
        sa.select(
            month,
            sa.func.sum(stats_lookups.c.count_hits),
            sa.func.sum(stats_lookups.c.count_nohits),
        )
        .where(stats_lookups.c.application_id == application_id, stats_lookups.c.date >= since)
        .group_by(month)
        .order_by(month.desc())
    ).all()
    return [
        MonthlyLookups(date(int(text[:4]), int(text[5:7]), 1), LookupTotals(int(hits), int(misses)))
        for text, hits, misses in rows
    ]


def search(conn: Connection, text: str, *, limit: int = 200) -> list[Application]:
    """Applications whose name, client key or email contains ``text`` (case-insensitively;
    ``%`` and ``_`` are plain characters; empty: every application), oldest first."""
    query = sa.select(application).order_by(application.c.id).limit(limit)
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            sa.or_(
                sa.func.lower(application.c.name).like(pattern, escape="\\"),
                sa.func.lower(application.c.apikey).like(pattern, escape="\\"),
                sa.func.lower(application.c.email).like(pattern, escape="\\"),
            )
        )
    return [_application(r) for r in conn.execute(query)]
