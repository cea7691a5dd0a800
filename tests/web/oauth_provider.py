"""A small, real OAuth2 / OpenID Connect provider for tests, served on 127.0.0.1.

It does what MusicBrainz and an OIDC provider do for the authorization-code flow, and checks
what they check:

- ``GET /oauth2/authorize``: approves at once, as the configured :class:`User`, and redirects to
  ``redirect_uri`` with ``code`` and ``state`` (or ``error=access_denied`` when ``deny`` is set).
  An unknown ``client_id`` or an unregistered ``redirect_uri`` gets a 400 page, not a redirect
  (RFC 6749 §4.1.2.1).
- ``POST /oauth2/token``: the client authenticates with its id and secret, in the form or as
  HTTP basic auth (``invalid_client``); the code must be one it issued to that client for that
  ``redirect_uri``, and only once: a reused code is ``invalid_grant`` and revokes the token the
  code gave (RFC 6749 §4.1.2).
- ``GET /oauth2/userinfo``: the claims of the bearer token's user (401 without a valid token).
- ``GET /.well-known/openid-configuration``: the discovery document.

Every endpoint can be made to misbehave (:class:`Misbehaviour`: another status or body, a huge
answer, hanging, trickling bytes) to test a client's defences. Start it with
:func:`running_provider`; the website's browser tests drive the full flow through it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from tests.support import uvicorn_in_thread

AUTHORIZE = "/oauth2/authorize"
TOKEN = "/oauth2/token"
USERINFO = "/oauth2/userinfo"
DISCOVERY = "/.well-known/openid-configuration"

#: Seconds a hanging or trickling endpoint goes on at most (the test's end releases it sooner).
_HANG_LIMIT = 30.0


@dataclass
class User:
    """Who the provider signs in. MusicBrainz answers ``sub`` = the user name only."""

    sub: str = "test-user"
    name: str | None = None
    email: str | None = None
    email_verified: bool | None = None

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.sub}
        if self.name is not None:
            claims["name"] = self.name
        if self.email is not None:
            claims["email"] = self.email
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        return claims


@dataclass
class Misbehaviour:
    """What an endpoint does instead of its job: answer ``status`` with ``body``, stream
    ``huge`` bytes (no Content-Length), ``hang`` without answering, or ``trickle`` one byte at a
    time; the last two last until the test ends."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    huge: int = 0
    hang: bool = False
    trickle: bool = False


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    user: User
    scope: str
    used: bool = False
    token: str | None = None


@dataclass
class OAuthProvider:
    """The provider's configuration and state; tests change them between requests."""

    client_id: str = "earmark-test-client"
    client_secret: str = "earmark-test-secret"
    redirect_uris: set[str] = field(default_factory=set)
    user: User = field(default_factory=User)
    deny: bool = False
    misbehave: dict[str, Misbehaviour] = field(default_factory=dict)
    base_url: str = ""
    #: How each token request authenticated: "post" or "basic".
    token_auth_seen: list[str] = field(default_factory=list)
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, User] = field(default_factory=dict)
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def authorize_url(self) -> str:
        return self.base_url + AUTHORIZE

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN

    @property
    def userinfo_url(self) -> str:
        return self.base_url + USERINFO

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(AUTHORIZE, self._authorize, methods=["GET"]),
                Route(TOKEN, self._token, methods=["POST"]),
                Route(USERINFO, self._userinfo, methods=["GET", "POST"]),
                Route(DISCOVERY, self._discovery, methods=["GET"]),
            ]
        )

    def release(self) -> None:
        """End every hanging or trickling answer."""
        self._released.set()

    async def _misbehaving(self, path: str) -> Response | None:
        bad = self.misbehave.get(path)
        if bad is None:
            return None
        if bad.hang:
            await self._wait()
            return PlainTextResponse("released", status_code=503)
        if bad.trickle:
            return StreamingResponse(self._trickle(), media_type=bad.content_type)
        if bad.huge:
            return StreamingResponse(_huge(bad.huge), media_type=bad.content_type)
        return Response(bad.body, status_code=bad.status, media_type=bad.content_type)

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._released.wait, _HANG_LIMIT)

    async def _trickle(self) -> AsyncIterator[bytes]:
        yield b'{"access_token": "'
        for _ in range(int(_HANG_LIMIT / 0.05)):
            if self._released.is_set():
                break
            await asyncio.sleep(0.05)
            yield b"a"

    async def _authorize(self, request: Request) -> Response:
        if (bad := await self._misbehaving(AUTHORIZE)) is not None:
            return bad
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return PlainTextResponse("unknown client_id", status_code=400)
        if redirect_uri not in self.redirect_uris:
            return PlainTextResponse("redirect_uri not registered", status_code=400)
        back: dict[str, str] = {}
        if query.get("response_type") != "code":
            back["error"] = "unsupported_response_type"
        elif self.deny:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self._grants[code] = _Grant(
                    self.client_id, redirect_uri, self.user, query.get("scope", "")
                )
            back["code"] = code
        if "state" in query:
            back["state"] = query["state"]
        return RedirectResponse(_with_query(redirect_uri, back), status_code=302)

    async def _token(self, request: Request) -> Response:
        if (bad := await self._misbehaving(TOKEN)) is not None:
            return bad
        form = await request.form()
        client_id, secret, method = _client_credentials(request, form)
        self.token_auth_seen.append(method)
        if client_id != self.client_id or secret != self.client_secret:
            return _oauth_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type")
        code = str(form.get("code", ""))
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.client_id != client_id:
                return _oauth_error("invalid_grant")
            if grant.used:
                if grant.token is not None:  # a replayed code: revoke what it gave
                    self._tokens.pop(grant.token, None)
                return _oauth_error("invalid_grant")
            grant.used = True
            if form.get("redirect_uri") != grant.redirect_uri:
                return _oauth_error("invalid_grant")
            token = secrets.token_urlsafe(24)
            grant.token = token
            self._tokens[token] = grant.user
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        answer["scope"] = grant.scope
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def _userinfo(self, request: Request) -> Response:
        if (bad := await self._misbehaving(USERINFO)) is not None:
            return bad
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            user = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse(user.claims())

    async def _discovery(self, request: Request) -> Response:
        if (bad := await self._misbehaving(DISCOVERY)) is not None:
            return bad
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.authorize_url,
                "token_endpoint": self.token_url,
                "userinfo_endpoint": self.userinfo_url,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )


def _client_credentials(request: Request, form: Any) -> tuple[str, str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return "", "", "basic"
        client_id, _, secret = decoded.partition(":")
        return client_id, secret, "basic"
    return str(form.get("client_id", "")), str(form.get("client_secret", "")), "post"


def _oauth_error(error: str, status: int = 400) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


async def _huge(size: int) -> AsyncIterator[bytes]:
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        yield chunk


@contextmanager
def running_provider(**config: Any) -> Iterator[OAuthProvider]:
    """An :class:`OAuthProvider` (``config``: its fields) served on a free port of 127.0.0.1
    until the block ends; ``base_url`` is set."""
    provider = OAuthProvider(**config)
    with uvicorn_in_thread(provider.app()) as port:
        provider.base_url = f"http://127.0.0.1:{port}"
        try:
            yield provider
        finally:
            provider.release()
