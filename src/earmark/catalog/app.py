"""The catalog's Starlette application (:func:`create_catalog_app`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from earmark.catalog import errors, handlers, spec
from earmark.catalog.errors import error_response
from earmark.catalog.handlers import endpoint
from earmark.catalog.services import CatalogServices
from earmark.musicbrainz import schema

log = logging.getLogger(__name__)

_LOOKUPS = (
    ("/lookup/isrc/{isrc}", "lookup_isrc", handlers.lookup_isrc),
    ("/lookup/track/{id}", "lookup_track", handlers.lookup_track),
    ("/lookup/recording/{id}", "lookup_recording", handlers.lookup_recording),
    ("/lookup/album/{id}", "lookup_album", handlers.lookup_album),
    ("/lookup/album/{id}/tracks", "lookup_album_tracks", handlers.lookup_album_tracks),
    ("/lookup/release-group/{id}", "lookup_release_group", handlers.lookup_release_group),
    ("/lookup/artist/{id}", "lookup_artist", handlers.lookup_artist),
    ("/lookup/barcode/{upc}", "lookup_barcode", handlers.lookup_barcode),
    ("/search/track", "search_track", handlers.search_track),
    ("/search/album", "search_album", handlers.search_album),
    ("/search/artist", "search_artist", handlers.search_artist),
    ("/health", "health", handlers.health),
    ("/metrics", "metrics", handlers.metrics),
)


async def _openapi(request: Request) -> Response:
    return Response(
        spec.document_bytes(),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


async def _docs(request: Request) -> Response:
    return Response(
        spec.page(),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": spec.CSP, "X-Content-Type-Options": "nosniff"},
    )


async def _css(request: Request) -> Response:
    return Response(
        spec.stylesheet(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def routes() -> list[Route]:
    found = [
        Route(path, endpoint(name, handler), methods=["GET"], name=name)
        for path, name, handler in _LOOKUPS
    ]
    found.append(
        Route(
            "/batch/lookup",
            endpoint("batch_lookup", handlers.batch_lookup),
            methods=["POST"],
            name="batch_lookup",
        )
    )
    found += [
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/docs", _docs, methods=["GET"]),
        Route("/docs/catalog.css", _css, methods=["GET"]),
    ]
    return found


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(errors.unknown_endpoint(request.url.path))


async def _not_allowed(request: Request, exc: Exception) -> Response:
    # The methods the path has (RFC 9110 §15.5.6): Starlette's exception names them.
    allow = (getattr(exc, "headers", None) or {}).get("Allow")
    found = errors.method_not_allowed(request.method, request.url.path)
    if allow:
        found.headers["Allow"] = allow
    return error_response(found)


def create_catalog_app(services: CatalogServices, *, own_lifespan: bool = True) -> ASGIApp:
    """The catalog. ``own_lifespan``: the app's lifespan closes the worker threads and the
    rate limiter (``earmark run catalog``); inside ``earmark serve`` the runtime does."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The table models take about a second to import: before listening, not in a request.
        await anyio.to_thread.run_sync(schema.tables)
        try:
            yield
        finally:
            await services.limits.close()
            await anyio.to_thread.run_sync(services.threads.close, 30.0)

    app = Starlette(
        routes=routes(),
        lifespan=lifespan if own_lifespan else None,
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    app.state.catalog = services
    return app
