"""The website's Starlette application: pages, static files, error pages, middleware.

Pages come from the modules in :data:`PAGES`; each has ``ROUTES: list[BaseRoute]``. A new page
group is a module in :mod:`earmark.web.pages` and one entry here (docs/website.md, "For
developers: adding a page").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from types import ModuleType

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from earmark.web.access import Redirect
from earmark.web.middleware import SCOPE_KEY, SECURITY_HEADERS, WebMiddleware
from earmark.web.pages import (
    account,
    admin,
    applications,
    content,
    data,
    identify,
    moderation,
    signin_oauth,
    stats,
)
from earmark.web.render import Templates, render
from earmark.web.services import WebServices
from earmark.web.session import SessionCodec, WebSession
from earmark.web.static import StaticFiles

log = logging.getLogger(__name__)

#: The page groups, in the order their routes are tried.
PAGES: tuple[ModuleType, ...] = (
    content,
    account,
    signin_oauth,
    applications,
    data,
    identify,
    moderation,
    stats,
    admin,
)

#: What each error page says (its title); the detail of an HTTPException is added below.
ERROR_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too much data",
    500: "Something went wrong",
}


def page_routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for module in PAGES:
        found.extend(module.ROUTES)
    return found


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code if exc.status_code in ERROR_TITLES else 400
    # Starlette's default detail is the status phrase: say nothing more then.
    detail = exc.detail if exc.detail != _phrase(exc.status_code) else ""
    response = await render(
        request,
        "error.html",
        {"status": status, "title": ERROR_TITLES[status], "detail": detail},
        status,
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def _server_error(request: Request, exc: Exception) -> Response:
    # Logged by Starlette's ServerErrorMiddleware; the page tells nothing of it. That
    # middleware is outside ours: the session may be unread and the headers are added here.
    request.scope.setdefault(SCOPE_KEY, WebSession.new())
    response = await render(
        request,
        "error.html",
        {"status": 500, "title": ERROR_TITLES[500], "detail": ""},
        500,
        with_account=False,
    )
    response.headers.update({**SECURITY_HEADERS, "cache-control": "no-store"})
    return response


async def _redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Redirect)
    return RedirectResponse(exc.url, status_code=303)


def create_web_app(services: WebServices, *, static: StaticFiles | None = None) -> Starlette:
    """The website over ``services`` (see the module doc). Its lifespan closes the sign-in
    rate limiter; everything else is closed by whoever built ``services``."""
    static = static or StaticFiles()
    codec = SessionCodec(services.config.secret)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.login_window.close()

    app = Starlette(
        routes=[*page_routes(), *static.routes()],
        middleware=[Middleware(WebMiddleware, codec=codec, https=services.config.https)],
        exception_handlers={
            HTTPException: _http_error,
            Redirect: _redirect,
            500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.web = services
    app.state.templates = Templates(static, codec)
    return app
