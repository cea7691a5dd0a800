"""One API request as handlers see it, and the wrapper that runs every handler the same way.

The reference's order for every handler (§2): parse and validate (format first, then keys, then
the rest) → count the request → rate-limit → work → serialise. A handler validates with the
``Call`` helpers, then calls :meth:`Call.admit` (counting and rate limits) before any work, and
returns the payload without ``status``. Errors become the envelope in the requested format.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from earmark.api import errors
from earmark.api.errors import ApiError
from earmark.api.formats import JSON, XML, Format, parse_format
from earmark.api.params import Params, read_params
from earmark.api.services import ApiServices
from earmark.db.accounts import Account
from earmark.db.applications import Application

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Payload = dict[str, Any]


@dataclass
class Call:
    request: Request
    services: ApiServices
    params: Params
    endpoint: str
    format: Format = JSON
    application_id: int | None = None
    admitted: bool = False
    #: Filled by :meth:`count` for the request counters: lookups that hit / missed.
    counted: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)

    # Request facts.

    @property
    def ip(self) -> str:
        client = self.request.client
        return client.host if client else "0.0.0.0"

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    def has_cluster_secret(self) -> bool:
        secret = self.services.config.cluster_secret
        given = self.params.get("secret")
        if not secret or given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))

    # Validation helpers (each raises the right ApiError).

    def required(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise errors.missing_parameter(name)
        return value

    async def application(self, name: str = "client") -> Application:
        """The active application of the client key ``name``: error 2 when missing, 4 when
        unknown or inactive."""
        key = self.required(name)
        if not plausible_key(key):
            raise errors.invalid_apikey()
        keys = self.services.keys
        # A cached key is answered here: a thread hop per request costs more than the lookup.
        found = keys.cached_application(key) or await self.thread(keys.application, key)
        if found is None:
            raise errors.invalid_apikey()
        self.application_id = found.id
        return found

    async def user(self, name: str = "user", *, cached: bool = True) -> Account:
        """The account of the user key ``name``: error 2 when missing, 6 when unknown."""
        key = self.required(name)
        if not plausible_key(key):
            raise errors.invalid_user_apikey()
        found = await self.thread(self.services.keys.account, key, cached=cached)
        if found is None:
            raise errors.invalid_user_apikey()
        return found

    # After validation.

    async def admit(
        self, *, application_id: int | None = None, account_id: int | None = None
    ) -> None:
        """Rate-limit the request (unless it carries the cluster secret); error 14 when a bucket
        is full. Call once, after every parameter was validated and before any work."""
        self.admitted = True
        if application_id is not None:
            self.application_id = application_id
        if self.has_cluster_secret():
            return
        rejection = await self.services.limits.check(
            application_id=application_id, account_id=account_id, ip=self.ip
        )
        if rejection is not None:
            self.services.metrics.rate_limited.labels(rejection.bucket).inc()
            raise errors.too_many_requests(rejection.rate, rejection.retry_after)

    def count(self, *, hits: int = 0, misses: int = 0) -> None:
        """Count the request for the statistics (lookups and user agents, reference §3.5).
        Blocking (Redis): call it from a worker thread, as the lookup does after its work."""
        self.counted = True
        if self.application_id is None:
            return
        self.services.metrics.lookup(hits, misses)
        self.services.counters.counters.count_request(
            self.application_id,
            hits=hits,
            misses=misses,
            user_agent=self.user_agent,
            ip=self.ip,
        )

    async def thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking work (database, index) in one of the process's worker threads."""
        return await self.services.threads.run(fn, *args, **kwargs)


Handler = Callable[[Call], Awaitable[Payload]]

#: Keys are 10 (11 for the demo key) letters, digits, ``-`` or ``_``; anything far from that is
#: refused without a query (a NUL byte would even fail the query on PostgreSQL).
MAX_KEY_LENGTH = 64


def plausible_key(key: str) -> bool:
    return len(key) <= MAX_KEY_LENGTH and key.isprintable()


def endpoint(
    name: str, handler: Handler, *, legacy: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` with the shared rules. ``legacy``: the v1 API,
    always XML whatever ``format`` says."""

    async def run(request: Request) -> Response:
        services: ApiServices = request.app.state.services
        started = time.perf_counter()
        call = Call(request, services, Params(), name, XML if legacy else JSON)
        try:
            call.params = await read_params(request)
            if not legacy:
                call.format = _format(call.params)
            payload = await handler(call)
            if not call.admitted:
                raise RuntimeError(f"handler {name} did not call admit()")
            response = _render(call.format, {"status": "ok", **payload}, 200, call.extra_headers)
        except ApiError as exc:
            services.metrics.error(name, exc.kind.name)
            response = error_response(call.format, exc)
        except Exception:
            log.exception("%s: unhandled error", name)
            services.metrics.error(name, errors.INTERNAL.name)
            response = error_response(call.format, errors.internal())
        services.metrics.observe(name, response.status_code, time.perf_counter() - started)
        return response

    return run


def _format(params: Params) -> Format:
    requested = params.get("format")
    found = parse_format(requested, params.get("jsoncallback"))
    if found is None:
        raise errors.unknown_format(requested or "")
    return found


def error_response(fmt: Format, exc: ApiError) -> Response:
    payload = {"status": "error", "error": {"code": exc.code, "message": exc.message}}
    return _render(fmt, payload, exc.status, exc.headers)


def _render(fmt: Format, payload: Payload, status: int, headers: dict[str, str]) -> Response:
    return Response(fmt.render(payload), status, headers=headers, media_type=fmt.content_type)
