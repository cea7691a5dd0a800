"""The web service's transport rules, as one ASGI middleware in front of the routes (§2).

* ``//`` in the path is collapsed to ``/`` and a trailing slash is dropped before routing;
* CORS: ``Access-Control-Allow-Origin: *`` on every response, and preflight requests answered;
* request bodies: at most 1 MiB (after inflating ``Content-Encoding: gzip``); the inflated
  size is capped while inflating, so a gzip bomb costs at most 1 MiB of memory and the time
  to inflate 1 MiB. A body too large is error 19, a corrupt gzip body error 20, both in the
  envelope (JSON, or XML for the v1 paths) instead of the reference's HTML pages.
"""

from __future__ import annotations

import re
import zlib
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earmark.api import errors
from earmark.api.errors import ApiError
from earmark.api.formats import JSON, XML, Format, parse_format
from earmark.api.params import MAX_BODY_BYTES

_SLASHES = re.compile(r"//+")
LEGACY_PATHS = frozenset({"/lookup", "/submit"})
_CORS_HEADERS = [(b"access-control-allow-origin", b"*")]
_PREFLIGHT_MAX_AGE = b"86400"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def normalize_path(path: str) -> str:
    path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def error_format(scope: Scope) -> Format:
    """The format of an error raised before the handler parsed ``format``: XML on the v1
    paths; else the query string's ``format`` when valid; else JSON."""
    if scope.get("path") in LEGACY_PATHS:
        return XML
    values: dict[str, str] = {}
    for part in scope.get("query_string", b"").decode("latin-1").split("&"):
        # Only the two names matter: no limit on the field count can fail here.
        name, _, value = part.partition("=")
        if name in ("format", "jsoncallback") and name not in values:
            values[name] = unquote_plus(value)
    return parse_format(values.get("format"), values.get("jsoncallback")) or JSON


async def send_error(scope: Scope, send: Send, exc: ApiError) -> None:
    fmt = error_format(scope)
    body = fmt.render({"status": "error", "error": {"code": exc.code, "message": exc.message}})
    headers = [
        (b"content-type", fmt.content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *_CORS_HEADERS,
        *((k.lower().encode(), v.encode()) for k, v in exc.headers.items()),
    ]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Transport:
    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = normalize_path(scope["path"])
        if path != scope["path"]:
            scope = {**scope, "path": path, "raw_path": path.encode("utf-8", "surrogateescape")}
        headers = {k.lower(): v for k, v in scope["headers"]}
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_CORS_HEADERS]}
            await send(message)

        try:
            body = await self._read_body(scope, headers, receive)
        except ApiError as exc:
            await send_error(scope, send, exc)
            return
        if body is None:
            await self.app(scope, receive, send_with_cors)
            return
        scope = _replace_body_headers(scope, len(body))
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect once the client goes away

        await self.app(scope, replay, send_with_cors)

    async def _preflight(self, headers: dict[bytes, bytes], send: Send) -> None:
        response_headers = [
            *_CORS_HEADERS,
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            (b"content-length", b"0"),
        ]
        requested = headers.get(b"access-control-request-headers")
        if requested:
            response_headers.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})

    async def _read_body(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> bytes | None:
        """The whole request body, inflated; None when there is none to read."""
        declared = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if scope["method"] not in _BODY_METHODS and declared is None and not chunked:
            return None
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise errors.invalid_request_body("bad Content-Length") from None
            if size > self.max_body:
                raise errors.request_too_large()
        encoding = headers.get(b"content-encoding", b"").strip().lower()
        if encoding not in (b"", b"identity", b"gzip", b"x-gzip", b"deflate"):
            raise errors.invalid_request_body(f"unsupported Content-Encoding {encoding.decode()!r}")
        inflater = None
        if encoding in (b"gzip", b"x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == b"deflate":
            inflater = zlib.decompressobj()
        raw = bytearray()
        out = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise errors.invalid_request_body("the client went away")
            chunk = message.get("body", b"")
            raw += chunk
            if len(raw) > self.max_body:
                raise errors.request_too_large()
            if inflater is not None and chunk:
                out += _inflate(inflater, chunk, self.max_body + 1 - len(out))
                if len(out) > self.max_body:
                    raise errors.request_too_large()
            if not message.get("more_body", False):
                break
        if inflater is None:
            return bytes(raw)
        if raw and not inflater.eof:
            raise errors.invalid_request_body("truncated gzip data")
        return bytes(out)


def _inflate(inflater: zlib._Decompress, chunk: bytes, room: int) -> bytes:
    try:
        # max_length bounds the output: a bomb stops after `room` bytes whatever its ratio.
        data = inflater.decompress(chunk, max(room, 1))
    except zlib.error:
        raise errors.invalid_request_body("corrupt gzip data") from None
    return data


def _replace_body_headers(scope: Scope, length: int) -> Scope:
    kept = [
        (k, v)
        for k, v in scope["headers"]
        if k.lower() not in (b"content-length", b"content-encoding", b"transfer-encoding")
    ]
    kept.append((b"content-length", str(length).encode()))
    return {**scope, "headers": kept}
