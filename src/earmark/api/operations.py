"""Operations endpoints: health checks (reference §5.9) and Prometheus metrics (§14).

* ``/_health``: ``ok`` (200, text/plain) while the service can do everything, writes included;
  503 ``shutdown in process`` once a shutdown began (load balancers drain before the process
  stops), 503 ``database unavailable`` when a database does not answer a trivial query in
  time, 503 ``database is read-only`` when PostgreSQL is a standby (the reference's
  ``not the master server``: submissions could not be stored).
* ``/_health_ro``: the same, but read access is enough (read replicas stay in rotation).
* ``/_health_docker``: liveness only, 200 unless shutting down (a database outage must not make
  an orchestrator kill and restart healthy processes).
* ``/metrics``: the Prometheus exposition of :class:`~earmark.api.metrics.ApiMetrics`.

The database probe runs in a thread with a timeout and never shows an exception's text (it
may hold host names or credentials); it is logged instead, at most once a minute. Concurrent
health requests share one probe in flight, so a hung database ties up one thread, not one per
load-balancer poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.api.metrics import CONTENT_TYPE
from earmark.api.services import ApiServices
from earmark.db.engine import Databases
from earmark.db.health import probe

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a probe may take before the service is reported unavailable.
PROBE_TIMEOUT_S = 2.0
SHUTTING_DOWN = "shutdown in process"
DATABASE_UNAVAILABLE = "database unavailable"
_WARN_EVERY_S = 60.0


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


class DatabaseProbe:
    """Runs :func:`earmark.db.health.probe` for health requests; see the module docstring.

    The probe runs in a daemon thread of its own rather than a pool's: a database that never
    answers would otherwise hold a pool thread, and at exit the pool waits for its threads.
    """

    def __init__(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._running: dict[bool, asyncio.Future[str | None]] = {}
        self._warned = -_WARN_EVERY_S

    async def check(self, dbs: Databases, *, write: bool) -> str | None:
        """None when healthy, else the public reason."""
        future = self._running.get(write)
        if future is None or future.done():
            future = _in_daemon_thread(functools.partial(probe, dbs, write=write))
            self._running[write] = future
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            self._warn("the database probe took longer than %.1f s", self.timeout)
        except Exception as exc:
            self._warn("the database probe failed (%s)", type(exc).__name__)
        return DATABASE_UNAVAILABLE

    def _warn(self, message: str, arg: object) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY_S:
            self._warned = now
            log.warning("health: " + message, arg)


def _in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """``fn()`` in a new daemon thread; its outcome lands in the returned future."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(cast(T, result))

    def work() -> None:
        try:
            result, error = fn(), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    # An outcome nobody awaited any more (after a timeout) is not an "unretrieved" error.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    threading.Thread(target=work, name="earmark-health-probe", daemon=True).start()
    return future


def _unhealthy(reason: str) -> Response:
    return PlainTextResponse(reason, 503)


def health_endpoints(probe: DatabaseProbe) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return await _health(request, write=True)

    async def health_ro(request: Request) -> Response:
        return await _health(request, write=False)

    async def health_docker(request: Request) -> Response:
        if _services(request).health.shutting_down.is_set():
            return _unhealthy(SHUTTING_DOWN)
        return PlainTextResponse("ok")

    async def _health(request: Request, *, write: bool) -> Response:
        services = _services(request)
        if services.health.shutting_down.is_set():
            return _unhealthy(SHUTTING_DOWN)
        reason = await probe.check(services.dbs, write=write)
        if reason is not None:
            return _unhealthy(reason)
        return PlainTextResponse("ok")

    return [
        Route("/_health", health, methods=["GET", "HEAD"]),
        Route("/_health_ro", health_ro, methods=["GET", "HEAD"]),
        Route("/_health_docker", health_docker, methods=["GET", "HEAD"]),
    ]


async def metrics(request: Request) -> Response:
    # Scrape-time collectors query the database: keep them off the event loop.
    body = await run_in_threadpool(_services(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


def routes() -> list[BaseRoute]:
    """The operations routes of one app (each app gets its own database probe)."""
    return [*health_endpoints(DatabaseProbe()), Route("/metrics", metrics, methods=["GET"])]
