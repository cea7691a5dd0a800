"""The web service's Starlette application: routes, transport rules, lifespan.

:func:`create_app` takes services built by the composition root (:mod:`earmark.app`) and
optional background tasks (the in-process importer and cron of ``earmark serve``) that start
with the app and stop with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from earmark.api import errors, identify, internal, lookup, operations, submit, tracks, user
from earmark.api.call import endpoint, error_response
from earmark.api.services import ApiServices
from earmark.api.spec import docs
from earmark.api.transport import Transport, error_format
from earmark.musicbrainz import schema

log = logging.getLogger(__name__)

#: Modules whose ``ROUTES`` list (path, endpoint name, handler) envelope endpoints; the
#: ``LEGACY_ROUTES`` of lookup and submit are the v1 paths, answered in XML.
ENVELOPE_MODULES = (lookup, identify, submit, tracks, user, internal)


class Background(Protocol):
    """Work that lives as long as the app (the in-process importer, the cron)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AnyMethod:
    """A request handler as an ASGI app: Starlette gives a *function* endpoint without
    ``methods`` only GET, but the reference's rules declare no methods (§2), so GET, POST and
    the rest must all reach the handler."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def routes(*, ops: bool = True) -> list[BaseRoute]:
    """Every route of the web service; without ``ops`` the health checks and ``/metrics``
    (served on their own listener, :func:`create_ops_app`) are left out."""
    found: list[BaseRoute] = []
    for module in ENVELOPE_MODULES:
        for path, name, handler in module.ROUTES:
            found.append(Route(path, AnyMethod(endpoint(name, handler)), name=name))
    for path, name, handler in [*lookup.LEGACY_ROUTES, *submit.LEGACY_ROUTES]:
        found.append(Route(path, AnyMethod(endpoint(name, handler, legacy=True)), name=name))
    if ops:
        found += operations.routes()
    found += docs.routes()
    return found


#: How long shutdown waits for worker threads still running calls of cancelled requests.
THREADS_CLOSE_WAIT_S = 30.0


def create_app(
    services: ApiServices, background: Sequence[Background] = (), *, ops_routes: bool = True
) -> ASGIApp:
    """The web service; ``ops_routes=False`` leaves the health checks and ``/metrics`` to an
    app of their own (:func:`create_ops_app`, setting ``ops_address``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # As many blocking calls at once as the connection pools hold: a thread beyond them
        # would wait for a connection, or open one beyond the pool and close it after.
        anyio.to_thread.current_default_thread_limiter().total_tokens = services.config.threads
        if services.mirror is not None:
            # The MusicBrainz table models take about a second to import: here, before the
            # process listens, rather than in the first lookup with metadata (every worker
            # thread would wait for the import lock, and the requests behind them).
            await anyio.to_thread.run_sync(schema.tables)
        await services.queue.start()
        started: list[Background] = []
        try:
            for task in background:
                await task.start()
                started.append(task)
            yield
        finally:
            services.health.begin_shutdown()
            for task in reversed(started):
                try:
                    await task.stop()
                except Exception:
                    log.exception("stopping %r failed", task)
            await services.queue.close()
            await services.limits.close()
            # Uvicorn has answered every request by now; calls of cancelled ones may still run
            # (each bounded by the statement and index timeouts; the wait is bounded too).
            if not await anyio.to_thread.run_sync(services.threads.close, THREADS_CLOSE_WAIT_S):
                log.warning("worker threads still busy %.0f s after shutdown", THREADS_CLOSE_WAIT_S)

    app = Starlette(
        routes=routes(ops=ops_routes),
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.services = services
    return Transport(app)


def create_ops_app(services: ApiServices) -> ASGIApp:
    """The health checks and ``/metrics`` alone, for the operations listener. No lifespan:
    the web service's app starts and stops the services both share."""
    app = Starlette(
        routes=operations.routes(),
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.services = services
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths get the error envelope (code 21, HTTP 404), not an HTML page."""
    fmt = error_format(request.scope)
    return error_response(fmt, errors.unknown_endpoint(request.url.path))
