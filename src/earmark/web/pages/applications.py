"""Applications (reference §12): register a program that calls the web service, get its client
key, see how much it is used, edit it, deactivate it.

- ``/my-applications``: the signed-in account's applications, with this month's lookups;
- ``/new-application``: name, version, email (required), website (optional), validated, errors
  shown in the form with the values kept;
- ``/application/<id>``: the key, the details, lookups per day over the last 30 days (an SVG
  chart) and monthly totals, read from ``stats_lookups`` (the counters the cron drains every
  minute, reference §13);
- ``/application/<id>/edit``, and ``/application/<id>/deactivate`` or ``/activate``: POSTs
  that first ask for a confirmation.

Only the owner and admins see an application; to anybody else it does not exist (404, not 403),
and neither does an id that is not a positive 32-bit number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.db import accounts, applications, stats
from earmark.db.accounts import Account
from earmark.db.applications import Application
from earmark.db.engine import Connections
from earmark.web.access import is_admin, not_found, require_account, services_of
from earmark.web.charts import daily_chart, last_days
from earmark.web.forms import read_form, text_field
from earmark.web.pages.account import EMAIL_PATTERN
from earmark.web.render import render

NAME_MAX = 100
VERSION_MAX = 50
EMAIL_MAX = 254
WEBSITE_MAX = 500
#: A field longer than this is not a typing mistake: the 400 page instead of the form.
FIELD_READ_MAX = 2000
#: Row ids are 32-bit (PostgreSQL ``integer``): a larger number names nothing.
MAX_ID = 2**31 - 1
CHART_DAYS = 30
MONTHS_SHOWN = 12
#: What the page says after a redirect (``?done=…``); anything else says nothing.
DONE_MESSAGES = {
    "created": "The application is registered: its API key works now.",
    "saved": "The changes are saved.",
    "deactivated": "The application is deactivated: requests with its key are refused.",
    "activated": "The application is active again: its key works.",
}
_ID = re.compile(r"[1-9][0-9]{0,9}")


# --- the form -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationFields:
    """The form's values, as typed (stripped)."""

    name: str = ""
    version: str = ""
    email: str = ""
    website: str = ""

    @classmethod
    def of(cls, app: Application) -> ApplicationFields:
        return cls(app.name, app.version, app.email or "", app.website or "")

    @classmethod
    def read(cls, form: FormData) -> ApplicationFields:
        return cls(*(text_field(form, name, max_length=FIELD_READ_MAX) for name in _FIELD_NAMES))

    def problems(self) -> dict[str, str]:
        """What is wrong, per field (empty: nothing)."""
        found = {
            "name": _text_problem(self.name, "name", NAME_MAX),
            "version": _text_problem(self.version, "version", VERSION_MAX),
            "email": _email_problem(self.email),
            "website": website_problem(self.website) if self.website else None,
        }
        return {field: problem for field, problem in found.items() if problem is not None}


_FIELD_NAMES = ("name", "version", "email", "website")


def _text_problem(value: str, what: str, limit: int) -> str | None:
    if not value:
        return f"The {what} is required."
    if len(value) > limit:
        return f"The {what} may have at most {limit} characters (this one has {len(value)})."
    if not value.isprintable():
        return f"The {what} may not contain control characters."
    return None


def _email_problem(email: str) -> str | None:
    if not email:
        return "The email address is required: it is how this server reaches the developers."
    if len(email) > EMAIL_MAX or not EMAIL_PATTERN.fullmatch(email):
        return "The email address does not look like one (name@example.org)."
    return None


def website_problem(url: str) -> str | None:
    """Why ``url`` is not an ``http``/``https`` address of a host, or None."""
    if len(url) > WEBSITE_MAX:
        return f"The website address may have at most {WEBSITE_MAX} characters."
    if not url.isprintable() or any(ch.isspace() for ch in url):
        return "The website address may not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return "The website address is not a valid URL."
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "The website must be an http:// or https:// address, e.g. https://example.org/."
    return None


def web_link(url: str | None) -> str | None:
    """``url`` when it may be a link (an http(s) address): older rows, created from the command
    line, were not checked like the form's."""
    if url and website_problem(url) is None:
        return url
    return None


# --- who may see what -----------------------------------------------------------------------


def parse_id(raw: str) -> int | None:
    """A path's id as a row id (1 .. 2**31-1, plain digits), or None."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


async def _visible(request: Request) -> tuple[Account, Application]:
    """The signed-in account and the application of the path, which it owns or, as an admin,
    may see; else the 404 page (a visitor signs in first)."""
    account = await require_account(request)
    app_id = parse_id(request.path_params["id"])
    if app_id is None:
        not_found()
    app = await services_of(request).read(lambda c: applications.get(c.app, app_id))
    if app is None or not (app.account_id == account.id or is_admin(account)):
        not_found()
    return account, app


def _today() -> dt.date:
    # The counters are bucketed by UTC day (earmark.counters.base).
    return dt.datetime.now(dt.UTC).date()


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    """The first day of ``day``'s month, ``back`` months earlier."""
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


# --- pages ----------------------------------------------------------------------------------


async def my_applications(request: Request) -> Response:
    account = await require_account(request)
    since = _month_start(_today())

    def load(conns: Connections) -> tuple[list[Application], dict[int, applications.LookupTotals]]:
        own = applications.list_by_account(conns.app, account.id)
        return own, applications.lookup_totals_since(conns.app, (a.id for a in own), since)

    own, totals = await services_of(request).read(load)
    rows = [(app, totals.get(app.id, applications.LookupTotals())) for app in own]
    context = {"rows": rows, "month": since}
    return await render(request, "applications/list.html", context)


def _form_context(values: ApplicationFields, problems: dict[str, str], **more: Any) -> Any:
    return {"values": asdict(values), "problems": problems, **more}


async def new_application_form(request: Request) -> Response:
    await require_account(request)
    context = _form_context(ApplicationFields(), {}, app=None)
    return await render(request, "applications/form.html", context)


async def new_application(request: Request) -> Response:
    account = await require_account(request)
    form = await read_form(request)
    values = ApplicationFields.read(form)
    problems = values.problems()
    if problems:
        context = _form_context(values, problems, app=None)
        return await render(request, "applications/form.html", context, 400)

    def create(conns: Connections) -> Application:
        return applications.create(
            conns.app,
            name=values.name,
            version=values.version,
            account_id=account.id,
            email=values.email,
            website=values.website or None,
        )

    created = await services_of(request).write(create)
    return RedirectResponse(f"/application/{created.id}?done=created", status_code=303)


async def application_page(request: Request) -> Response:
    account, app = await _visible(request)
    today = _today()
    first_day = today - dt.timedelta(days=CHART_DAYS - 1)
    since = _month_start(today, MONTHS_SHOWN - 1)

    def load(
        conns: Connections,
    ) -> tuple[list[stats.DailyLookups], list[applications.MonthlyLookups], Account | None]:
        daily = stats.lookup_stats(conns.app, [app.id], first_day, today)
        months = applications.monthly_lookups(conns.app, app.id, since)
        owner = None if app.account_id == account.id else accounts.get(conns.app, app.account_id)
        return daily, months, owner

    daily, months, owner = await services_of(request).read(load)
    chart = daily_chart(
        last_days({d.date: d.count for d in daily}, end=today, days=CHART_DAYS),
        title=f"Lookups per day: {_shorten(app.name, 60)}",
        unit="lookups",
    )
    context = {
        "app": app,
        "owner": owner,
        "website": web_link(app.website),
        "chart": chart,
        "months": months,
        "window_hits": sum(d.count_hits for d in daily),
        "window_misses": sum(d.count_nohits for d in daily),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
    }
    return await render(request, "applications/show.html", context)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def edit_form(request: Request) -> Response:
    _account, app = await _visible(request)
    context = _form_context(ApplicationFields.of(app), {}, app=app)
    return await render(request, "applications/form.html", context)


async def edit(request: Request) -> Response:
    _account, app = await _visible(request)
    form = await read_form(request)
    values = ApplicationFields.read(form)
    problems = values.problems()
    if problems:
        context = _form_context(values, problems, app=app)
        return await render(request, "applications/form.html", context, 400)

    def save(conns: Connections) -> bool:
        return applications.update(
            conns.app,
            app.id,
            name=values.name,
            version=values.version,
            email=values.email,
            website=values.website or None,
        )

    if not await services_of(request).write(save):
        not_found()  # deleted meanwhile
    return RedirectResponse(f"/application/{app.id}?done=saved", status_code=303)


async def _set_active(request: Request, active: bool) -> Response:
    """A POST: first the confirmation page, then (``confirm=yes``) the change."""
    _account, app = await _visible(request)
    form = await read_form(request)
    if text_field(form, "confirm", max_length=10) != "yes":
        context = {"app": app, "activate": active}
        return await render(request, "applications/confirm.html", context)
    await services_of(request).write(lambda c: applications.set_active(c.app, app.id, active))
    done = "activated" if active else "deactivated"
    return RedirectResponse(f"/application/{app.id}?done={done}", status_code=303)


async def deactivate(request: Request) -> Response:
    return await _set_active(request, False)


async def activate(request: Request) -> Response:
    return await _set_active(request, True)


ROUTES: list[BaseRoute] = [
    Route("/my-applications", my_applications, methods=["GET", "HEAD"], name="my_applications"),
    Route("/new-application", new_application_form, methods=["GET", "HEAD"]),
    Route("/new-application", new_application, methods=["POST"], name="new_application"),
    Route("/application/{id}", application_page, methods=["GET", "HEAD"], name="application"),
    Route("/application/{id}/edit", edit_form, methods=["GET", "HEAD"]),
    Route("/application/{id}/edit", edit, methods=["POST"], name="application_edit"),
    Route("/application/{id}/deactivate", deactivate, methods=["POST"]),
    Route("/application/{id}/activate", activate, methods=["POST"]),
]
