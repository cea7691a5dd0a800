"""The server span of each HTTP request (a pure ASGI middleware), when tracing is on.

It runs inside :class:`earmark.requestid.RequestIdMiddleware`, so the span carries the
request's id; while the app handles the request :data:`earmark.tracing.ACTIVE_TRACER` is set,
which lets the index and database hooks add child spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earmark.logs import REQUEST_ID
from earmark.tracing import ACTIVE_TRACER

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer


class TracingMiddleware:
    """One ``SERVER`` span per HTTP request, named ``METHOD path`` (the API's paths hold no ids)."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, StatusCode

        method, path = str(scope["method"]), str(scope["path"])
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        attributes = {"http.method": method, "url.path": path}
        with self.tracer.start_as_current_span(
            f"{method} {path}", kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            token = ACTIVE_TRACER.set(self.tracer)
            try:
                await self.app(scope, receive, send_status)
            finally:
                ACTIVE_TRACER.reset(token)
                span.set_attribute("http.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                request_id = REQUEST_ID.get()
                if request_id is not None:
                    span.set_attribute("earmark.request_id", request_id)
