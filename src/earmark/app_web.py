"""The composition root's part for the website (:mod:`earmark.web`): its services from the
settings, and the one app of ``earmark serve`` that answers both the site and the API
(:mod:`earmark.app` builds the runtimes with these).

``earmark serve`` serves both on one port: the API keeps its paths (``/v2/…``, the v1 paths
``/lookup`` and ``/submit``, the health checks and ``/metrics``) and the website has the rest,
``/`` included (where the API alone redirects to its docs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from earmark.api.transport import normalize_path
from earmark.clipsync import ClipService
from earmark.closers import release_all
from earmark.counters import CounterBackends
from earmark.db.engine import Databases
from earmark.demokey import DemoKeys
from earmark.errors import ConfigError
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import MemoryWindow, RedisWindow, Window
from earmark.search import Searcher
from earmark.settings import Secret, Settings
from earmark.web.services import WebConfig, WebServices
from earmark.web.signin_providers import SignInProviders

#: Paths of the API in the combined app: these prefixes (and what is under them).
API_PREFIXES = ("/v2", "/lookup", "/submit", "/_health", "/_health_ro", "/_health_docker")
API_PATHS = frozenset({"/metrics"})


def login_window(settings: Settings) -> Window:
    """Where sign-in attempts are counted: Redis when ``redis_url`` is set (shared by every
    web process), else this process's memory."""
    if not settings.redis_url:
        return MemoryWindow()
    import redis.asyncio

    from earmark.ratelimit import REDIS_TIMEOUT_S

    client = redis.asyncio.Redis.from_url(
        str(settings.redis_url),
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    return RedisWindow(client, settings.redis_prefix)


def web_config(settings: Settings, *, api_url: str = "") -> WebConfig:
    if not settings.web_secret:
        raise ConfigError(
            "the website needs web_secret (a long random string, the same for every web "
            "process), e.g. EARMARK_WEB_SECRET_FILE=/run/secrets/web_secret"
        )
    try:
        providers = SignInProviders(settings)
    except ValueError as exc:
        raise ConfigError(f"website sign-in: {exc}") from None
    return WebConfig(
        secret=str(settings.web_secret),
        https=settings.web_https,
        form_max_bytes=settings.web_form_max_bytes,
        login_rate=settings.web_login_rate,
        demo=DemoKeys(str(settings.demo_key_secret), settings.demo_application_id),
        api_url=api_url or settings.web_api_url,
        identify_max_bytes=settings.web_identify_max_bytes,
        identify_timeout=settings.web_identify_timeout,
        oauth=providers,
    )


def web_services(
    settings: Settings,
    *,
    dbs: Databases,
    mirror: MusicBrainzDatabase | None,
    searcher: Searcher | None = None,
    counters: CounterBackends | None = None,
    clips: ClipService | None = None,
) -> WebServices:
    """The website's handles over services the caller built (and closes)."""
    return WebServices(
        dbs=dbs,
        config=web_config(settings),
        login_window=login_window(settings),
        mirror=mirror,
        searcher=searcher,
        counters=counters,
        clips=clips,
    )


def with_web_secret(settings: Settings, secret: str) -> Settings:
    """``settings`` with ``web_secret`` set to ``secret`` unless one is configured."""
    if settings.web_secret:
        return settings
    return dataclasses.replace(settings, web_secret=Secret(secret))


def is_api_path(path: str) -> bool:
    path = normalize_path(path)
    if path in API_PATHS:
        return True
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


class SiteAndApi:
    """One ASGI app: API paths (:func:`is_api_path`) to ``api``, the rest to ``web``.

    The lifespan is the API's: it starts and stops the queue and the background work. The
    website's own lifespan (closing its sign-in limiter's Redis client) has nothing to do
    here: ``serve`` counts sign-ins in memory.
    """

    def __init__(self, api: ASGIApp, web: ASGIApp) -> None:
        self.api = api
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        target = self.api if is_api_path(scope.get("path", "/")) else self.web
        await target(scope, receive, send)


# --- `earmark run web` -------------------------------------------------------------------------


@dataclass
class WebRuntime:
    """One website process: the app and what to close after the server stopped."""

    app: ASGIApp
    services: WebServices
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        release_all(self.closers)
