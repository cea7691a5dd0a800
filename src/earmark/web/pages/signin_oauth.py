"""Sign in with MusicBrainz and with an OpenID Connect provider (reference §12 ``/login/…``).

``POST /login/musicbrainz`` (or ``/login/oidc``), a button of the sign-in page with the form
token and the ``return_url``, starts a sign-in: a fresh ``state`` is stored (hashed) with the
session id, the page to come back to and an expiry, and the browser goes to the provider.
The provider sends it back to ``GET /login/<provider>?code=…&state=…``: the state is taken
from the store (deleted: it works once) and must belong to this session and this provider; then
the code is exchanged for a token, the token for the user's identity, and the account is found
or created. MusicBrainz names the user (``sub``), recorded as ``account.mbuser``, which makes a
moderator as in the reference; an OpenID Connect identity is linked by (issuer, subject). The
sign-in starts a new session id. Any failure is a page that says what happened, and creates
nothing.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.db import accounts, oauth_signins
from earmark.db.engine import Connections
from earmark.ratelimit import Charge, canonical_ip
from earmark.web import oauth
from earmark.web.access import (
    LOGIN_PATH,
    Redirect,
    forget_account,
    not_found,
    safe_return_url,
    services_of,
    session_of,
)
from earmark.web.forms import read_form, text_field
from earmark.web.render import render
from earmark.web.services import WebServices
from earmark.web.signin_providers import STATE_TTL_S, SignInProviders

log = logging.getLogger(__name__)

#: Longest ``state`` looked up (ours are 43 characters).
_MAX_STATE = 256
#: Status of the failure page per reason: the visitor's (4xx) or the provider's (5xx).
_STATUS: dict[str, int] = {
    "denied": 400,
    "bad_state": 400,
    "bad_callback": 400,
    "refused": 400,
    "unavailable": 502,
    "malformed": 502,
    "too_large": 502,
    "misconfigured": 502,
    "timeout": 504,
}
_DEACTIVATED = "This account is deactivated: it cannot sign in."
_BUSY = "Too many sign-ins are in progress on this site right now. Please try again later."
_TOO_MANY = "Too many attempts: wait a minute and try again."


def _providers(request: Request) -> SignInProviders:
    return services_of(request).config.oauth


def _provider_name(request: Request) -> str:
    name: str = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    if not _providers(request).enabled(name):
        not_found()
    return name


def redirect_uri(request: Request, name: str) -> str:
    """Where the provider sends the browser back: this site's ``/login/<name>`` (https when
    the site says it is served over HTTPS, whatever the proxy in front told the server)."""
    base = str(request.base_url).rstrip("/")
    if services_of(request).config.https and base.startswith("http://"):
        base = "https://" + base.removeprefix("http://")
    return f"{base}{LOGIN_PATH}/{name}"


async def _failed(
    request: Request, name: str, message: str, status: int, return_url: str = "/"
) -> Response:
    context: dict[str, Any] = {
        "provider_label": _providers(request).label(name),
        "message": message,
        "return_url": return_url,
    }
    return await render(request, "signin_oauth/failed.html", context, status)


async def _allowed(request: Request, services: WebServices) -> bool:
    """Starting sign-ins counts against the client IP's sign-in rate (each start stores a
    state until it expires)."""
    rate = services.config.login_rate
    if rate <= 0:
        return True
    ip = canonical_ip(request.client.host if request.client else "")
    verdict = await services.login_window.charge([Charge("web_oauth_ip", ip, rate)])
    return verdict.allowed


async def start(request: Request) -> Response:
    name = _provider_name(request)
    form = await read_form(request)
    services = services_of(request)
    return_url = safe_return_url(text_field(form, "return_url", max_length=2000))
    if not await _allowed(request, services):
        return await _failed(request, name, _TOO_MANY, 429, return_url)
    try:
        async with httpx.AsyncClient() as http:
            provider = await _providers(request).provider(name, http)
    except oauth.OAuthError as error:
        log.warning("sign-in with %s cannot start: %s", name, error.reason)
        return await _failed(request, name, error.message, _STATUS[error.reason], return_url)
    assert provider is not None  # enabled: checked by _provider_name
    state = oauth.new_state()
    session_id = session_of(request).sid
    now = int(time.time())

    def save(conns: Connections) -> bool:
        return oauth_signins.save_state(
            conns.app,
            state=state,
            session_id=session_id,
            provider=name,
            return_url=return_url,
            expires=now + STATE_TTL_S,
            now=now,
        )

    if not await services.write(save):
        return await _failed(request, name, _BUSY, 503, return_url)
    url = oauth.authorization_url(provider, state, redirect_uri(request, name))
    return RedirectResponse(url, status_code=303)


async def _expected_state(request: Request, name: str) -> tuple[str | None, str]:
    """The callback's state when it is a live one of this session and provider (it is
    consumed either way), and the page to come back to."""
    state = request.query_params.get("state", "")
    if not state or len(state) > _MAX_STATE:
        return None, "/"
    pending = await services_of(request).write(lambda c: oauth_signins.take_state(c.app, state))
    if pending is None:
        return None, "/"
    mine = hmac.compare_digest(pending.session_hash, oauth_signins.digest(session_of(request).sid))
    live = pending.expires > time.time()
    if mine and live and pending.provider == name:
        return state, pending.return_url
    return None, "/"


async def callback(request: Request) -> Response:
    name = _provider_name(request)
    if request.method == "HEAD":  # a link checker or prefetcher: never spend the state
        return Response(status_code=200)
    params = request.query_params
    if not any(key in params for key in ("state", "code", "error")):
        raise Redirect(LOGIN_PATH)  # someone typed the address: nothing to finish
    expected, return_url = await _expected_state(request, name)
    providers = _providers(request)
    try:
        code = oauth.check_callback(params, expected)
        async with httpx.AsyncClient() as http:
            provider = await providers.provider(name, http)
            assert provider is not None
            uri = redirect_uri(request, name)
            token = await oauth.exchange_code(provider, code, uri, http, timeout=providers.timeout)
            identity = await oauth.userinfo(provider, token, http, timeout=providers.timeout)
    except oauth.OAuthError as error:
        log.info("sign-in with %s failed: %s", name, error.reason)
        return await _failed(request, name, error.message, _STATUS[error.reason])
    account = await _account_of(services_of(request), providers, identity)
    if not account.active:
        return await _failed(request, name, _DEACTIVATED, 403)
    await services_of(request).write(lambda c: accounts.touch_login(c.app, account.id))
    session_of(request).sign_in(account.id)  # a new session id (and CSRF token)
    forget_account(request)
    return RedirectResponse(safe_return_url(return_url), status_code=303)


async def _account_of(
    services: WebServices, providers: SignInProviders, identity: oauth.Identity
) -> accounts.Account:
    """The identity's account, created when new; a first sign-in racing another one for the
    same identity loses on the unique key, and then finds the winner's account."""

    def find_or_create(conns: Connections) -> accounts.Account:
        if identity.provider == oauth.MUSICBRAINZ:
            return accounts.find_or_create_by_mbuser(
                conns.app, identity.subject, created_from="web:musicbrainz"
            )
        return oauth_signins.find_or_create_by_oidc(
            conns.app,
            providers.oidc_issuer,
            identity.subject,
            name=identity.name or f"{providers.oidc_label} user",
            email=identity.email,
        )

    try:
        return await services.write(find_or_create)
    except sa.exc.IntegrityError:
        return await services.write(find_or_create)


_PATHS = [f"{LOGIN_PATH}/{oauth.MUSICBRAINZ}", f"{LOGIN_PATH}/{oauth.OIDC}"]

ROUTES: list[BaseRoute] = [
    *(Route(path, start, methods=["POST"]) for path in _PATHS),
    *(Route(path, callback, methods=["GET"]) for path in _PATHS),
]
