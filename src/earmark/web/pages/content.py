"""The content pages: home (live totals), the web service's how-to, FAQ, about, the database."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from earmark.db import applications, totals
from earmark.db.engine import Connections
from earmark.web.access import current_account, services_of
from earmark.web.render import render

_TOTALS_KEY = "home.totals"
#: Shown in the examples when there is neither a key of the visitor's nor a demo key.
PLACEHOLDER_KEY = "YOUR_API_KEY"


async def site_totals(request: Request) -> totals.Totals:
    """The live totals, reused for a minute (see :mod:`earmark.db.totals`)."""
    services = services_of(request)
    found = services.cache.get(_TOTALS_KEY)
    if isinstance(found, totals.Totals):
        return found
    fresh = await services.read(totals.live_totals)
    services.cache.put(_TOTALS_KEY, fresh)
    return fresh


async def home(request: Request) -> Response:
    return await render(request, "home.html", {"totals": await site_totals(request)})


def api_base(request: Request) -> str:
    """Where the examples send requests: the setting, else this site's own address."""
    configured = services_of(request).config.api_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


async def webservice(request: Request) -> Response:
    services = services_of(request)
    account = await current_account(request)
    client_key, key_source, user_key = None, "placeholder", None
    if account is not None:
        account_id = account.id

        def own_keys(conns: Connections) -> list[applications.Application]:
            return applications.list_by_account(conns.app, account_id)

        active = [app for app in await services.read(own_keys) if app.active]
        user_key = account.apikey
        if active:
            client_key, key_source = active[0].apikey, "own"
    if client_key is None:
        demo = services.config.demo.today() if services.config.demo.enabled else None
        if demo is not None:
            client_key, key_source = demo, "demo"
    context = {
        "api": api_base(request),
        "client_key": client_key or PLACEHOLDER_KEY,
        "key_source": key_source,
        "user_key": user_key,
    }
    return await render(request, "webservice.html", context)


async def faq(request: Request) -> Response:
    return await render(request, "faq.html")


async def about(request: Request) -> Response:
    return await render(request, "about.html")


async def database(request: Request) -> Response:
    return await render(request, "database.html", {"totals": await site_totals(request)})


ROUTES: list[BaseRoute] = [
    Route("/", home, methods=["GET", "HEAD"], name="home"),
    Route("/webservice", webservice, methods=["GET", "HEAD"], name="webservice"),
    Route("/faq", faq, methods=["GET", "HEAD"], name="faq"),
    Route("/about", about, methods=["GET", "HEAD"], name="about"),
    Route("/database", database, methods=["GET", "HEAD"], name="database"),
]
