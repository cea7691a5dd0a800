"""The website's ASGI middleware: the session cookie in, the cookie and security headers out.

Every response of the site gets the security headers (docs/website.md "Security"): a
Content-Security-Policy that allows scripts, styles and images from the site only (no inline
script), ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, a Referrer-Policy, and
``Cache-Control: no-store`` unless the response chose its own (the static files do).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earmark.web.session import COOKIE_NAME, MAX_AGE_S, SessionCodec, WebSession

#: Where the request's session lives in the ASGI scope (see earmark.web.access.session_of).
SCOPE_KEY = "earmark.web.session"


def csp(*, form_action: list[str] | None = None) -> str:
    """The Content-Security-Policy; ``form_action``: origins a page's forms may also go to
    (a page that sets its own header keeps it)."""
    targets = " ".join(["'self'", *(form_action or [])])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; font-src 'self'; form-action {targets}; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


CSP = csp()
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class WebMiddleware:
    def __init__(self, app: ASGIApp, codec: SessionCodec, *, https: bool) -> None:
        self.app = app
        self.codec = codec
        self.https = https

    def _session(self, scope: Scope) -> WebSession:
        for name, value in scope.get("headers", ()):
            if name != b"cookie":
                continue
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except CookieError:
                continue
            morsel = cookie.get(COOKIE_NAME)
            if morsel is not None:
                found = self.codec.loads(morsel.value)
                if found is not None:
                    return found
        return WebSession.new()

    def _cookie(self, session: WebSession) -> str:
        value = self.codec.dumps(session)
        flags = f"Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax"
        if self.https:
            flags += "; Secure"
        return f"{COOKIE_NAME}={value}; {flags}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self._session(scope)
        scope[SCOPE_KEY] = session

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if session.modified:
                    headers.append("set-cookie", self._cookie(session))
                    headers.append("vary", "Cookie")
            await send(message)

        await self.app(scope, receive, send_with_headers)
