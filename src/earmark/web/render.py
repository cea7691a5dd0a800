"""Templates: one Jinja2 environment, autoescape on for every template (whatever its name),
and :func:`render`, which gives each page what the layout needs.

Every template gets: ``request``, ``account`` (the signed-in account or None), ``csrf_token``
(the hidden field of each POST form: ``<input type="hidden" name="csrf_token"
value="{{ csrf_token }}">``), ``static_url(name)`` (the hashed URL of a static file),
``is_moderator`` and ``is_admin`` (of the signed-in account), plus the page's own context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from earmark import __version__
from earmark.web.access import current_account, is_admin, is_moderator, session_of
from earmark.web.session import SessionCodec, WebSession
from earmark.web.static import StaticFiles


class Templates:
    """The environment, the static files and the session codec the pages render with."""

    def __init__(self, static: StaticFiles, codec: SessionCodec) -> None:
        self.static = static
        self.codec = codec
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("earmark.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["static_url"] = static.url
        self.env.globals["version"] = __version__
        self.env.filters["thousands"] = thousands


class CsrfToken:
    """The session's form token, computed when a template prints it: a visitor without a
    session gets the cookie only with a page that has a form."""

    def __init__(self, codec: SessionCodec, session: WebSession) -> None:
        self._codec = codec
        self._session = session

    def __str__(self) -> str:
        return self._codec.csrf_token(self._session)


def thousands(value: int) -> str:
    """1234567 → ``1,234,567``."""
    return f"{value:,}"


def templates_of(request: Request) -> Templates:
    templates: Templates = request.app.state.templates
    return templates


async def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
    *,
    with_account: bool = True,
) -> HTMLResponse:
    """The page ``template`` (a file of earmark/web/templates) as an HTML response.

    ``with_account=False`` renders without reading the account (the 500 page: the database may
    be what failed).
    """
    templates = templates_of(request)
    account = await current_account(request) if with_account else None
    values: dict[str, Any] = {
        "request": request,
        "account": account,
        "csrf_token": CsrfToken(templates.codec, session_of(request)),
        "is_moderator": is_moderator(account),
        "is_admin": is_admin(account),
    }
    values.update(context or {})
    body = templates.env.get_template(template).render(values)
    return HTMLResponse(body, status_code=status)
