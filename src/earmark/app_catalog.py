"""The composition root's part for the catalog API (:mod:`earmark.catalog`): its services
from the settings, ``earmark run catalog``'s runtime, and the mount under ``/catalog`` that
``earmark serve`` puts in front of its app (:func:`earmark.app.open_embedded`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from starlette.types import ASGIApp, Receive, Scope, Send

from earmark.auth import KeyCache
from earmark.catalog.app import create_catalog_app
from earmark.catalog.limits import CatalogLimits
from earmark.catalog.services import CatalogConfig, CatalogServices
from earmark.closers import release_all
from earmark.db.engine import Databases
from earmark.demokey import DemoKeys
from earmark.musicbrainz.catalog_store import CatalogStore, SqlCatalogStore
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import MemoryWindow, RateLimits, RedisWindow, Window, rates_from_settings
from earmark.settings import Settings

log = logging.getLogger(__name__)

#: Where ``earmark serve`` answers the catalog.
CATALOG_PREFIX = "/catalog"


def catalog_window(settings: Settings) -> Window:
    """The catalog's rate-limit counters: in Redis when ``redis_url`` is set (under their own
    prefix, apart from /v2's), else in this process's memory."""
    if not settings.redis_url:
        return MemoryWindow()
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from earmark.ratelimit import REDIS_TIMEOUT_S

    client = redis.asyncio.Redis.from_url(
        str(settings.redis_url),
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisWindow(client, f"{settings.redis_prefix}catalog:")


def catalog_store(settings: Settings, mirror: MusicBrainzDatabase) -> CatalogStore:
    """Where the catalog reads (setting catalog_backend): the mirror, or its Parquet export
    through DuckDB (opened and checked here: a clear error naming catalog_parquet_dir when it
    cannot be served)."""
    if settings.catalog_backend == "duckdb":
        from earmark.musicbrainz.columnar_read import open_columnar

        return open_columnar(settings.catalog_parquet_dir)
    return SqlCatalogStore(mirror)


def catalog_services(
    settings: Settings, *, mirror: MusicBrainzDatabase, keys: KeyCache
) -> CatalogServices:
    """The catalog's handles over a mirror and a key cache the caller built (and closes); the
    caller closes ``store`` too (a DuckDB store holds its database)."""
    limits = RateLimits(catalog_window(settings), rates_from_settings(settings))
    return CatalogServices(
        store=catalog_store(settings, mirror),
        keys=keys,
        limits=CatalogLimits(limits, settings.catalog_anonymous_rate),
        config=CatalogConfig(
            max_age=settings.catalog_cache_max_age, threads=settings.catalog_threads
        ),
    )


def key_cache(settings: Settings, dbs: Databases) -> KeyCache:
    return KeyCache(
        dbs,
        settings.key_cache_ttl,
        demo=DemoKeys(str(settings.demo_key_secret), settings.demo_application_id),
    )


@dataclass
class CatalogRuntime:
    """One catalog process: the app and what to close after the server stopped."""

    app: ASGIApp
    services: CatalogServices
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        release_all(self.closers)


def open_catalog(settings: Settings) -> CatalogRuntime:
    """``earmark run catalog``: the catalog alone, reading the mirror and (for the keys) the
    app database."""
    closers: list[Callable[[], None]] = []
    try:
        dbs = Databases.from_settings(settings, generic_plans=True)
        closers.append(dbs.dispose)
        mirror = MusicBrainzDatabase.from_settings(settings, generic_plans=True)
        closers.append(mirror.dispose)
        services = catalog_services(settings, mirror=mirror, keys=key_cache(settings, dbs))
        closers.append(services.store.close)
        return CatalogRuntime(create_catalog_app(services), services, closers)
    except BaseException:
        release_all(closers)
        raise


def check_mirror(settings: Settings) -> str | None:
    """Why ``earmark run catalog`` cannot serve the mirror of the settings (None: it can)."""
    if settings.catalog_backend == "duckdb":
        from earmark.musicbrainz.columnar_read import ColumnarError, open_columnar

        try:
            open_columnar(settings.catalog_parquet_dir).close()
        except ColumnarError as exc:
            return str(exc)
        return None
    mirror = MusicBrainzDatabase.from_settings(settings)
    try:
        schema = None if mirror.engine.dialect.name == "sqlite" else mirror.schema_name
        if not sa.inspect(mirror.engine).has_table("recording", schema=schema):
            return (
                "no MusicBrainz tables at musicbrainz_database_url: run `earmark mb init` and "
                "`earmark mb import` (or `earmark mb load-sample`)"
            )
    except sa.exc.OperationalError as exc:
        return f"cannot reach the MusicBrainz database: {' '.join(str(exc.orig).split())}"
    finally:
        mirror.dispose()
    return None


class WithCatalog:
    """``app`` with the catalog mounted under :data:`CATALOG_PREFIX` (the lifespan is
    ``app``'s; the catalog's resources are closed by the runtime)."""

    def __init__(self, app: ASGIApp, catalog: ASGIApp) -> None:
        self.app = app
        self.catalog = catalog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == CATALOG_PREFIX or path.startswith(CATALOG_PREFIX + "/")
        ):
            # As Starlette's Mount: the path stays whole, root_path names the prefix.
            inner = dict(scope)
            inner["root_path"] = scope.get("root_path", "") + CATALOG_PREFIX
            await self.catalog(inner, receive, send)
            return
        await self.app(scope, receive, send)
