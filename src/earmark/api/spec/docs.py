"""Routes of the API's own documentation: ``/v2/openapi.json`` and the ``/v2/docs`` page.

The page and its script and style ship in the package (``earmark/api/spec/static/``) and are served
from it: no CDN, no request leaves the server, and the Content-Security-Policy keeps it so
(``default-src 'self'``). Only the named files are served; any other name is the error envelope
(code 21), as for unknown paths. ``/`` redirects to the page (until a website answers there).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.api import errors
from earmark.api.call import error_response
from earmark.api.formats import JSON
from earmark.api.spec.openapi import document_bytes

#: The files under ``/v2/docs/static/`` and their media types.
ASSETS = {
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}
PAGE = "docs.html"
DOCS_PATH = "/v2/docs"
PAGE_TYPE = "text/html; charset=utf-8"
OPENAPI_TYPE = "application/json"
#: The page may load only what this server serves; it fetches openapi.json itself.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_CACHE = "public, max-age=300"


@functools.cache
def asset(name: str) -> bytes:
    """A packaged file of ``earmark/api/spec/static`` (read once per process)."""
    return (resources.files("earmark.api.spec") / "static" / name).read_bytes()


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _send(request: Request, body: bytes, media_type: str, extra: dict[str, str]) -> Response:
    tag = _etag(body)
    headers = {
        "ETag": tag,
        "Cache-Control": _CACHE,
        "X-Content-Type-Options": "nosniff",
        **extra,
    }
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=media_type)


async def openapi_json(request: Request) -> Response:
    return _send(request, document_bytes(), OPENAPI_TYPE, {})


async def docs_page(request: Request) -> Response:
    return _send(request, asset(PAGE), PAGE_TYPE, {"Content-Security-Policy": CSP})


async def docs_asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = ASSETS.get(name)
    if media_type is None:
        return error_response(JSON, errors.unknown_endpoint(request.url.path))
    return _send(request, asset(name), media_type, {})


async def home(request: Request) -> Response:
    # The start banner sends people to the server's address; until there is a website to
    # answer there, the API's documentation does. 307: temporary, nothing caches it for good.
    return RedirectResponse(DOCS_PATH, status_code=307)


def routes() -> list[BaseRoute]:
    """The documentation routes, for :func:`earmark.api.app.routes`."""
    methods = ["GET", "HEAD"]
    return [
        Route("/", home, methods=methods, name="home"),
        Route("/v2/openapi.json", openapi_json, methods=methods, name="openapi_json"),
        Route(DOCS_PATH, docs_page, methods=methods, name="docs"),
        Route("/v2/docs/static/{name}", docs_asset, methods=methods, name="docs_static"),
    ]
