"""The client side of sign-in with MusicBrainz (OAuth2) and with an OpenID Connect provider.

Both use the authorization-code flow (RFC 6749 §4.1):

1. :func:`new_state` makes a random ``state``; the page stores it in the session (bound to the
   session id) and redirects the browser to :func:`authorization_url`.
2. The provider sends the browser back to ``redirect_uri`` with ``code`` and ``state``. The
   page removes the stored state from the session (single use) and hands it with the query
   parameters to :func:`check_callback`, which gives back the code or raises.
3. :func:`exchange_code` trades the code for an access token at the token endpoint (the client
   authenticates with its id and secret), and :func:`userinfo` reads who signed in
   (:class:`Identity`: ``sub``, and for OpenID Connect ``name`` and ``email``).

MusicBrainz answers ``sub`` = the MusicBrainz user name, which is what makes an account a
moderator. For OpenID Connect the ID token that comes with the access token is not used, so its
signature is not checked: the identity is read from the userinfo endpoint instead, with the
access token, over TLS, from the endpoint configured here (or named by the discovery document
fetched over TLS from the configured issuer). TLS authenticates the provider, which is what
checking the ID token's signature would prove (OpenID Connect Core §3.1.3.7 allows skipping the
check for a token received directly from the token endpoint over TLS). Endpoints must therefore
be ``https``; plain ``http`` is accepted only on a loopback host (tests, a provider on the same
machine).

Everything read from a provider is bounded: each answer by :data:`MAX_ANSWER_BYTES` (a bigger one
is dropped unread), each call by a deadline (``timeout`` seconds for the whole exchange, however
slowly the bytes arrive), and redirects are not followed. Any failure is an
:class:`OAuthError` whose ``message`` can be shown to the user as it is.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from earmark.settings import Secret, Settings

__all__ = [
    "MUSICBRAINZ",
    "OIDC",
    "Identity",
    "OAuthError",
    "Provider",
    "Token",
    "authorization_url",
    "check_callback",
    "discover",
    "endpoint_problem",
    "exchange_code",
    "musicbrainz_provider",
    "new_state",
    "oidc_provider",
    "userinfo",
]

log = logging.getLogger(__name__)

#: The provider names (:attr:`Provider.name`, :attr:`Identity.provider`).
MUSICBRAINZ: Final = "musicbrainz"
OIDC: Final = "oidc"
#: An answer from a provider (token, userinfo, discovery) is a small JSON object.
MAX_ANSWER_BYTES: Final = 64 * 1024
#: Seconds one exchange with a provider may take, from connecting to the last byte.
DEFAULT_TIMEOUT: Final = 10.0
_MAX_CODE: Final = 2048
_MAX_TOKEN: Final = 4096
_MAX_NAME: Final = 255
_MAX_EMAIL: Final = 320

Reason = Literal[
    "denied",  # the user said no at the provider
    "bad_state",  # missing, unknown, reused or forged state
    "bad_callback",  # the redirect back holds no usable code
    "refused",  # the provider refused the code or the token
    "unavailable",  # could not reach the provider, or it failed (5xx, unexpected status)
    "timeout",  # the provider did not answer in time
    "malformed",  # an answer that is not the JSON object it should be
    "too_large",  # an answer bigger than MAX_ANSWER_BYTES
    "misconfigured",  # client id/secret refused, endpoints missing or not https
]


class OAuthError(Exception):
    """A sign-in that could not be completed. ``message`` is for the user (it never holds a
    token, a secret or the provider's own words); ``reason`` is for logs and tests."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a provider endpoint (not https, and not http on loopback), or None."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "is not an absolute URL"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None
    return "must be an https URL (http only on a loopback host)"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One sign-in provider: who we are there (client id and secret) and its endpoints.
    ``token_auth``: how the client authenticates at the token endpoint, with the id and secret
    in the form (``post``, what MusicBrainz expects) or as HTTP basic auth (``basic``)."""

    name: str
    label: str
    client_id: str
    client_secret: Secret = field(repr=False)
    authorize_url: str
    token_url: str
    userinfo_url: str
    scope: str
    token_auth: Literal["post", "basic"] = "post"

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError(f"{self.name}: the client id is empty")
        for what in ("authorize_url", "token_url", "userinfo_url"):
            problem = endpoint_problem(getattr(self, what))
            if problem is not None:
                raise ValueError(f"{self.name}: {what} {problem}")


@dataclass(frozen=True)
class Token:
    """What the token endpoint gave: the access token (a bearer token) and what it says of it."""

    access_token: Secret = field(repr=False)
    token_type: str
    expires_in: int | None
    scope: str | None


@dataclass(frozen=True)
class Identity:
    """Who signed in: ``subject`` is the provider's stable id of the user (for MusicBrainz the
    user name); ``name`` a display name; ``email`` only when the provider does not say it is
    unverified (OpenID Connect ``email_verified: false`` drops it)."""

    provider: str
    subject: str
    name: str | None
    email: str | None


def new_state() -> str:
    """A fresh, unguessable ``state`` (256 random bits, URL-safe). Store it in the session,
    bound to the session id, and remove it when the provider sends the browser back."""
    return secrets.token_urlsafe(32)


def authorization_url(provider: Provider, state: str, redirect_uri: str) -> str:
    """Where to send the browser to sign in (query parameters of RFC 6749 §4.1.1 added to
    whatever query the configured URL already has)."""
    parts = urlsplit(provider.authorize_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        ("response_type", "code"),
        ("client_id", provider.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", provider.scope),
        ("state", state),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_callback(params: Mapping[str, str], expected_state: str | None) -> str:
    """The code from the provider's redirect back (its query parameters), once ``state`` is the
    one stored for this session (``expected_state``, already removed from the session: None
    when there was none). The state is checked first, so that a forged redirect learns
    nothing, not even whether the user had declined."""
    state = params.get("state")
    if not expected_state or not state or not hmac.compare_digest(state, expected_state):
        raise OAuthError(
            "bad_state",
            "This sign-in link has expired or was already used. Please start signing in again.",
        )
    error = params.get("error")
    if error is not None:
        if error == "access_denied":
            raise OAuthError("denied", "Sign-in was cancelled at the provider.")
        raise OAuthError("refused", "The provider could not sign you in. Please try again.")
    code = params.get("code")
    if not code or len(code) > _MAX_CODE or not _token_like(code):
        raise OAuthError(
            "bad_callback", "The provider sent back no usable sign-in code. Please try again."
        )
    return code


def _token_like(text: str) -> bool:
    """Printable ASCII without spaces: what codes and tokens are, and safe in a header."""
    return text.isascii() and text.isprintable() and not any(c.isspace() for c in text)


async def exchange_code(
    provider: Provider,
    code: str,
    redirect_uri: str,
    http: httpx.AsyncClient,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Token:
    """Trade an authorization code for an access token (RFC 6749 §4.1.3). ``redirect_uri``
    must be the one given to :func:`authorization_url`."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    auth: httpx.BasicAuth | None = None
    if provider.token_auth == "basic":
        auth = httpx.BasicAuth(provider.client_id, str(provider.client_secret))
    else:
        form |= {"client_id": provider.client_id, "client_secret": str(provider.client_secret)}
    status, answer = await _call(
        provider, "POST", provider.token_url, http, timeout, data=form, auth=auth
    )
    if status in (400, 401):
        error = answer.get("error") if isinstance(answer, dict) else None
        if error == "invalid_client":
            log.warning("%s refused this site's client id or secret", provider.name)
            raise OAuthError(
                "misconfigured",
                f"Sign-in with {provider.label} is not set up correctly on this site.",
            )
        raise OAuthError(
            "refused",
            f"{provider.label} did not accept the sign-in code (it may have expired or been "
            "used already). Please sign in again.",
        )
    if status != 200:
        raise _unavailable(provider, status)
    return _token(provider, answer)


def _token(provider: Provider, answer: Any) -> Token:
    if not isinstance(answer, dict):
        raise _malformed(provider)
    access_token = answer.get("access_token")
    token_type = answer.get("token_type")
    if (
        not isinstance(access_token, str)
        or not access_token
        or len(access_token) > _MAX_TOKEN
        or not _token_like(access_token)
        or not isinstance(token_type, str)
        or token_type.lower() != "bearer"
    ):
        raise _malformed(provider)
    expires_in = answer.get("expires_in")
    scope = answer.get("scope")
    return Token(
        access_token=Secret(access_token),
        token_type="Bearer",
        expires_in=expires_in if type(expires_in) is int else None,
        scope=scope if isinstance(scope, str) else None,
    )


async def userinfo(
    provider: Provider,
    token: Token,
    http: httpx.AsyncClient,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Identity:
    """Who the access token belongs to, from the provider's userinfo endpoint."""
    headers = {"Authorization": f"Bearer {token.access_token}"}
    status, answer = await _call(
        provider, "GET", provider.userinfo_url, http, timeout, headers=headers
    )
    if status in (401, 403):
        raise OAuthError(
            "refused", f"{provider.label} did not confirm who you are. Please sign in again."
        )
    if status != 200:
        raise _unavailable(provider, status)
    if not isinstance(answer, dict):
        raise _malformed(provider)
    subject = _clean(answer.get("sub"), _MAX_NAME)
    if subject is None:
        raise _malformed(provider)
    if provider.name == MUSICBRAINZ:
        return Identity(provider.name, subject, subject, None)
    name = _clean(answer.get("name"), _MAX_NAME) or _clean(
        answer.get("preferred_username"), _MAX_NAME
    )
    email = _clean(answer.get("email"), _MAX_EMAIL)
    if email is not None and ("@" not in email or answer.get("email_verified") is False):
        email = None
    return Identity(provider.name, subject, name, email)


def _clean(value: Any, limit: int) -> str | None:
    """A provider's text field, stripped; None unless a printable string of 1..limit chars."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > limit or not text.isprintable():
        return None
    return text


async def discover(
    issuer: str, http: httpx.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """The OpenID Connect discovery document of ``issuer`` (OpenID Connect Discovery §4),
    checked: it names the same issuer, and its endpoints are https (or loopback http)."""
    problem = endpoint_problem(issuer)
    if problem is not None:
        raise ValueError(f"oidc_issuer {problem}")
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    probe = _Probe(name=OIDC, label=_host(issuer))
    status, answer = await _call(probe, "GET", url, http, timeout)
    if status != 200:
        raise _unavailable(probe, status)
    if not isinstance(answer, dict) or answer.get("issuer") not in (issuer, issuer.rstrip("/")):
        raise _malformed(probe)
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
        value = answer.get(key)
        if value is not None and (not isinstance(value, str) or endpoint_problem(value)):
            raise _malformed(probe)
    return answer


@dataclass(frozen=True)
class _Probe:
    """What error messages need of a provider not built yet (the discovery call)."""

    name: str
    label: str


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def musicbrainz_provider(settings: Settings) -> Provider | None:
    """Sign-in with MusicBrainz, or None when ``musicbrainz_oauth_client_id`` is not set."""
    if not settings.musicbrainz_oauth_client_id:
        return None
    return Provider(
        name=MUSICBRAINZ,
        label="MusicBrainz",
        client_id=settings.musicbrainz_oauth_client_id,
        client_secret=settings.musicbrainz_oauth_client_secret,
        authorize_url=settings.musicbrainz_oauth_authorize_url,
        token_url=settings.musicbrainz_oauth_token_url,
        userinfo_url=settings.musicbrainz_userinfo_url,
        scope="profile",
    )


async def oidc_provider(
    settings: Settings, http: httpx.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT
) -> Provider | None:
    """Sign-in with the configured OpenID Connect provider, or None when ``oidc_client_id`` is
    not set. Endpoints not set in the settings come from the issuer's discovery document, so
    this may call the provider (an :class:`OAuthError` when it is down): call it when a sign-in
    starts, and keep the result. A missing endpoint with no issuer to ask is a ValueError."""
    if not settings.oidc_client_id:
        return None
    endpoints = {
        "authorization_endpoint": settings.oidc_authorize_url,
        "token_endpoint": settings.oidc_token_url,
        "userinfo_endpoint": settings.oidc_userinfo_url,
    }
    methods: Any = ["client_secret_post"]
    if not all(endpoints.values()):
        if not settings.oidc_issuer:
            raise ValueError("oidc: set oidc_issuer, or all three oidc_*_url endpoints")
        found = await discover(settings.oidc_issuer, http, timeout=timeout)
        for key, value in endpoints.items():
            endpoints[key] = value or str(found.get(key) or "")
        methods = found.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    missing = [key for key, value in endpoints.items() if not value]
    if missing:
        raise OAuthError(
            "misconfigured",
            "Sign-in with OpenID Connect is not set up correctly on this site "
            f"(no {', '.join(missing)}).",
        )
    # Discovery's default is client_secret_basic; prefer the form when the provider takes it.
    post = isinstance(methods, list) and "client_secret_post" in methods
    any_endpoint = settings.oidc_issuer or endpoints["authorization_endpoint"]
    return Provider(
        name=OIDC,
        label=settings.oidc_name or _host(any_endpoint),
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        authorize_url=endpoints["authorization_endpoint"],
        token_url=endpoints["token_endpoint"],
        userinfo_url=endpoints["userinfo_endpoint"],
        scope=settings.oidc_scope,
        token_auth="post" if post else "basic",
    )


async def _call(
    provider: Provider | _Probe,
    method: str,
    url: str,
    http: httpx.AsyncClient,
    timeout: float,
    **options: Any,
) -> tuple[int, Any]:
    """One request to a provider: the status and the JSON answer (None when an error status
    comes with something else). Bounded in time and size; redirects are not followed."""
    headers = {"Accept": "application/json", **options.pop("headers", {})}
    try:
        async with asyncio.timeout(timeout):
            async with http.stream(
                method,
                url,
                headers=headers,
                timeout=timeout,
                follow_redirects=False,
                **options,
            ) as response:
                body = await _read_bounded(provider, response)
    except TimeoutError as exc:  # asyncio's deadline: a provider trickling its answer
        log.warning("%s: no answer from %s in %s s", provider.name, url, timeout)
        raise _timeout(provider) from exc
    except httpx.TimeoutException as exc:
        log.warning("%s: %s timed out: %s", provider.name, url, type(exc).__name__)
        raise _timeout(provider) from exc
    except httpx.HTTPError as exc:
        log.warning("%s: %s failed: %s", provider.name, url, type(exc).__name__)
        raise _unavailable(provider, None) from exc
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or hostile nesting
        if response.status_code == 200:
            raise _malformed(provider) from exc
        answer = None  # an error page: its status says enough
    return response.status_code, answer


async def _read_bounded(provider: Provider | _Probe, response: httpx.Response) -> bytes:
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_ANSWER_BYTES:
        raise _too_large(provider)
    body = bytearray()
    async for chunk in response.aiter_bytes():  # decoded: a compressed bomb stops here too
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise _too_large(provider)
    return bytes(body)


def _unavailable(provider: Provider | _Probe, status: int | None) -> OAuthError:
    if status is not None:
        log.warning("%s answered HTTP %s", provider.name, status)
    return OAuthError(
        "unavailable",
        f"{provider.label} is not available right now. Please try again later.",
    )


def _timeout(provider: Provider | _Probe) -> OAuthError:
    return OAuthError(
        "timeout", f"{provider.label} did not answer in time. Please try again later."
    )


def _malformed(provider: Provider | _Probe) -> OAuthError:
    log.warning("%s sent an answer that is not what OAuth expects", provider.name)
    return OAuthError(
        "malformed", f"{provider.label} sent an answer this site cannot read. Please try again."
    )


def _too_large(provider: Provider | _Probe) -> OAuthError:
    log.warning("%s sent an answer over %d bytes", provider.name, MAX_ANSWER_BYTES)
    return OAuthError(
        "too_large", f"{provider.label} sent an answer this site cannot read. Please try again."
    )
