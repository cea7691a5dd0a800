"""The request id of every HTTP request: taken from a sane ``X-Request-Id`` or made here.

A pure ASGI middleware around each app the servers run (API, website, catalog, index
server): it sets :data:`earmark.logs.REQUEST_ID` for the request's context, so every log line of
the request carries the id, and returns it in the response's ``X-Request-Id`` header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earmark.logs import REQUEST_ID, REQUEST_ID_HEADER, new_request_id, sane_request_id

_HEADER = REQUEST_ID_HEADER.lower().encode("ascii")


def incoming_id(scope: Scope) -> str:
    """The request's own id when it sent a sane one (the first header), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == _HEADER:
            return sane_request_id(value.decode("latin-1")) or new_request_id()
    return new_request_id()


class RequestIdMiddleware:
    """Sets the request id for the request's context and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_id(scope)
        token = REQUEST_ID.set(request_id)
        raw = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER]
                message = {**message, "headers": [*headers, (_HEADER, raw)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
