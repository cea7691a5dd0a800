"""``/admin``: the administrators' pages (reference §12). Everybody else, signed in or not,
gets the 404 page, as for a page that does not exist.

- ``/admin``: the submission queue (waiting, failed, the oldest wait) and the index (documents,
  version, the newest fingerprint it confirmed, what waits for it);
- ``/admin/accounts?q=``: find accounts, grant and revoke the moderator and admin roles;
- ``/admin/applications?q=&month=YYYY-MM``: applications with their hits and misses of a
  month; activate and deactivate their keys.

Changes are POSTs with the form token, answered by a 303 back to the list.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from earmark.db import accounts, applications, fingerprints, opendata, stats, submissions
from earmark.db.accounts import Account
from earmark.db.engine import Connections
from earmark.search import Searcher
from earmark.web.access import Redirect, current_account, is_admin, not_found, services_of
from earmark.web.forms import read_form, text_field
from earmark.web.render import render

log = logging.getLogger(__name__)

_OVERVIEW_KEY = "admin.overview"
#: Search text longer than this names nothing useful (names are at most a few dozen).
MAX_QUERY = 100
#: Rows a list shows; a search narrows it.
ACCOUNT_ROWS = 50
APPLICATION_ROWS = 200
_MONTH = re.compile(r"(\d{4})-(\d{2})")
ROLES = ("admin", "moderator")
#: Ids are INTEGER columns (PostgreSQL refuses a larger number).
MAX_ID = 2**31 - 1


async def require_admin(request: Request) -> Account:
    """The signed-in administrator; anybody else gets the 404 page."""
    account = await current_account(request)
    if account is None or not is_admin(account):
        not_found()
    return account


def _query(request: Request) -> str:
    text = request.query_params.get("q", "").strip()
    if len(text) > MAX_QUERY:
        raise HTTPException(400, f"The search text is longer than {MAX_QUERY} characters.")
    if not text.isprintable():  # PostgreSQL refuses a NUL; SQLite would cut the pattern there
        raise HTTPException(400, "The search text must not contain control characters.")
    return text


def parse_month(text: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM`` (None or empty: this month); else the 400 page."""
    if not text:
        first = today.replace(day=1)
    else:
        found = _MONTH.fullmatch(text)
        if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1900:
            raise HTTPException(400, "The month must be written YYYY-MM, e.g. 2024-03.")
        first = dt.date(int(found.group(1)), int(found.group(2)), 1)
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without their zone; they are UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def duration_text(seconds: float) -> str:
    """A wait as people say it: ``45 s``, ``12 min``, ``3 h 5 min``, ``4 days 2 h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


# --- the overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexView:
    """The index as this process sees it: its own figures when it can ask it."""

    asked: bool
    documents: int | None = None
    version: int | None = None
    segments: int | None = None
    max_doc_id: int | None = None
    #: Why the index could not be asked (its error's class; details go to the log).
    error: str | None = None


@dataclass(frozen=True)
class Overview:
    at: dt.datetime
    statuses: dict[str, int]
    backlog: submissions.Backlog
    progress: fingerprints.IndexProgress
    index: IndexView
    #: (provenance, stream, last day applied) of the open data imports (docs/open-data.md).
    open_data: list[tuple[str, str, dt.date]]


def _read_overview(
    conns: Connections,
) -> tuple[
    dict[str, int], submissions.Backlog, fingerprints.IndexProgress, list[tuple[str, str, dt.date]]
]:
    return (
        submissions.counts_by_status(conns.ingest),
        submissions.backlog(conns.ingest),
        fingerprints.index_progress(conns.fingerprint),
        opendata.all_progress(conns.fingerprint),
    )


def _open_data_rows(
    found: list[tuple[str, str, dt.date]], now: dt.datetime
) -> list[tuple[str, str, str, str]]:
    """provenance, stream, last day, and how far behind its end now is."""
    rows = []
    for provenance, stream, day in found:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        lag = duration_text(max(0.0, (now - end).total_seconds()))
        rows.append((provenance, stream, day.isoformat(), lag))
    return rows


def _ask_index(searcher: Searcher | None) -> IndexView:
    if searcher is None:
        return IndexView(asked=False)
    try:
        info = searcher.index.get_index(searcher.index_name)
    except Exception as exc:  # unreachable, missing: the page says so, the log says why
        log.warning("the admin page could not ask the index: %r", exc)
        return IndexView(asked=True, error=type(exc).__name__)
    return IndexView(
        asked=True,
        documents=info.stats.num_docs,
        version=info.version,
        segments=info.stats.num_segments,
        max_doc_id=info.stats.max_doc_id,
    )


async def overview(request: Request) -> Response:
    await require_admin(request)
    services = services_of(request)
    found = services.cache.get(_OVERVIEW_KEY)
    if not isinstance(found, Overview):
        statuses, backlog, progress, open_data = await services.read(_read_overview)
        index = await run_in_threadpool(_ask_index, services.searcher)
        found = Overview(dt.datetime.now(dt.UTC), statuses, backlog, progress, index, open_data)
        services.cache.put(_OVERVIEW_KEY, found)
    now = dt.datetime.now(dt.UTC)
    progress = found.progress
    context = {
        "view": found,
        "statuses": sorted(found.statuses.items()),
        "oldest_wait": duration_text(found.backlog.oldest_age) if found.backlog.pending else None,
        "outbox_wait": (
            duration_text((now - _utc(progress.oldest_waiting)).total_seconds())
            if progress.oldest_waiting is not None
            else None
        ),
        "open_data": _open_data_rows(found.open_data, now),
        "last_indexed": (
            _utc(progress.last_indexed_created).strftime("%Y-%m-%d %H:%M:%S UTC")
            if progress.last_indexed_created is not None
            else None
        ),
    }
    return await render(request, "admin/overview.html", context)


# --- accounts -------------------------------------------------------------------------------


async def account_list(request: Request) -> Response:
    await require_admin(request)
    text = _query(request)
    found = await services_of(request).read(
        lambda conns: accounts.search(conns.app, text, limit=ACCOUNT_ROWS)
    )
    changed = request.query_params.get("changed", "")
    return await render(
        request,
        "admin/accounts.html",
        {
            "q": text,
            "found": found,
            "limit": ACCOUNT_ROWS,
            "changed": int(changed) if changed.isdigit() else None,
        },
    )


def row_id(request: Request) -> int:
    """The ``{id:int}`` of the path; a number no INTEGER column holds names nothing (404)."""
    value: int = request.path_params["id"]
    if not 1 <= value <= MAX_ID:
        not_found()
    return value


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise HTTPException(400, f"The field {name!r} must be one of: {', '.join(allowed)}.")
    return value


async def change_roles(request: Request) -> Response:
    admin = await require_admin(request)
    form = await read_form(request)
    account_id = row_id(request)
    role = _choice(text_field(form, "role", max_length=20), ROLES, "role")
    grant = _choice(text_field(form, "grant", max_length=1), ("0", "1"), "grant") == "1"
    back = text_field(form, "q", max_length=MAX_QUERY)
    if account_id == admin.id and role == "admin" and not grant:
        raise HTTPException(
            400,
            "You cannot take the admin role from yourself here (nobody might be left to give "
            "it back): ask another admin, or use `earmark admin revoke`.",
        )

    def change(conns: Connections) -> bool:
        if role == "admin":
            return accounts.set_roles(conns.app, account_id, is_admin=grant)
        return accounts.set_roles(conns.app, account_id, is_moderator=grant)

    if not await services_of(request).write(change):
        not_found()
    log.info(
        "admin %s %s the %s role %s account %s",
        admin.id,
        "granted" if grant else "revoked",
        role,
        "to" if grant else "of",
        account_id,
    )
    raise Redirect("/admin/accounts?" + urlencode({"q": back, "changed": account_id}))


# --- applications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationRow:
    app: applications.Application
    owner: str | None
    lookups: stats.ApplicationLookups | None


async def application_list(request: Request) -> Response:
    await require_admin(request)
    text = _query(request)
    today = dt.datetime.now(dt.UTC).date()
    first, last = parse_month(request.query_params.get("month"), today)

    def read(conns: Connections) -> list[ApplicationRow]:
        found = applications.search(conns.app, text, limit=APPLICATION_ROWS)
        owners = accounts.names_by_id(conns.app, (a.account_id for a in found))
        used = stats.lookups_by_application(conns.app, first, last)
        return [ApplicationRow(a, owners.get(a.account_id), used.get(a.id)) for a in found]

    rows = await services_of(request).read(read)
    month = first.strftime("%Y-%m")
    previous = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    following = (last + dt.timedelta(days=1)).strftime("%Y-%m")
    changed = request.query_params.get("changed", "")
    context = {
        "q": text,
        "rows": rows,
        "limit": APPLICATION_ROWS,
        "month": month,
        "month_name": first.strftime("%B %Y"),
        "previous": previous,
        "following": following if last < today else None,
        "hits": sum(r.lookups.hits for r in rows if r.lookups),
        "misses": sum(r.lookups.misses for r in rows if r.lookups),
        "changed": int(changed) if changed.isdigit() else None,
    }
    return await render(request, "admin/applications.html", context)


async def change_application(request: Request) -> Response:
    admin = await require_admin(request)
    form = await read_form(request)
    application_id = row_id(request)
    active = _choice(text_field(form, "active", max_length=1), ("0", "1"), "active") == "1"
    back = text_field(form, "q", max_length=MAX_QUERY)
    month = text_field(form, "month", max_length=7)
    parse_month(month, dt.datetime.now(dt.UTC).date())  # a bad one is refused before the change
    done = await services_of(request).write(
        lambda conns: applications.set_active(conns.app, application_id, active)
    )
    if not done:
        not_found()
    log.info(
        "admin %s %s application %s",
        admin.id,
        "activated" if active else "deactivated",
        application_id,
    )
    query = urlencode({"q": back, "month": month, "changed": application_id})
    raise Redirect(f"/admin/applications?{query}")


ROUTES: list[BaseRoute] = [
    Route("/admin", overview, methods=["GET", "HEAD"], name="admin"),
    Route("/admin/accounts", account_list, methods=["GET", "HEAD"], name="admin-accounts"),
    Route("/admin/accounts/{id:int}/roles", change_roles, methods=["POST"]),
    Route(
        "/admin/applications",
        application_list,
        methods=["GET", "HEAD"],
        name="admin-applications",
    ),
    Route("/admin/applications/{id:int}/active", change_application, methods=["POST"]),
]
