"""The composition root: builds Earmark's services from settings (no globals anywhere else).

Entry points (`earmark serve`, `earmark run ROLE`, maintenance commands) call these builders and
pass the handles down; whoever builds a handle closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from starlette.types import ASGIApp

from earmark import embedded
from earmark.api.app import THREADS_CLOSE_WAIT_S, Background, create_app, create_ops_app
from earmark.api.metrics_opendata import OpenDataCollector
from earmark.api.services import ApiConfig, ApiServices
from earmark.app_catalog import WithCatalog, catalog_services, key_cache
from earmark.app_web import SiteAndApi, WebRuntime, web_config, web_services
from earmark.catalog.app import create_catalog_app
from earmark.clipindex.index import ClipIndex
from earmark.clipsync import ClipService
from earmark.closers import release_all
from earmark.counters import CounterBackends, open_backends
from earmark.cron import Scheduler, build_scheduler
from earmark.cron.opendata import OpenDataImport
from earmark.db import migrate
from earmark.db.engine import Databases, musicbrainz_url, url_key
from earmark.errors import ConfigError, EarmarkError
from earmark.importer.backends import open_queue
from earmark.importer.queue import SubmissionQueue
from earmark.importer.worker import Worker
from earmark.index.client import HttpIndexClient, IndexClient, LocalIndexClient
from earmark.index.engine import MultiIndex
from earmark.index.shards import ShardedIndexClient, parse_shards
from earmark.indexsync import flush_outbox
from earmark.library.local import Keys, LocalService, in_process
from earmark.musicbrainz.cache import MetadataCache
from earmark.musicbrainz.replication_source import configured_source
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import open_rate_limits
from earmark.search import Searcher
from earmark.settings import Settings
from earmark.startup import wait_for_services
from earmark.threadpool import ThreadPool
from earmark.web.app import create_web_app

log = logging.getLogger(__name__)


@dataclass
class IndexHandle:
    """The configured fingerprint index: a remote server, or an engine in this process."""

    client: IndexClient
    name: str
    engine: MultiIndex | None = None

    def close(self) -> None:
        self.client.close()
        if self.engine is not None:
            self.engine.close()


def _open_stores(
    settings: Settings, closers: list[Callable[[], None]], *, web: bool
) -> tuple[Databases, IndexHandle]:
    """The databases and the index every runtime starts with; their closers go on ``closers``."""
    dbs = open_databases(settings, web=web)
    closers.append(dbs.dispose)
    index = open_index(settings)
    closers.append(index.close)
    return dbs, index


def remote_index(settings: Settings) -> bool:
    """Whether the index is on index servers (index_url or index_shards), not in-process."""
    return bool(settings.index_url or settings.index_shards)


def open_index(settings: Settings) -> IndexHandle:
    if settings.index_shards:
        try:
            shards = ShardedIndexClient(parse_shards(settings.index_shards))
        except ValueError as exc:  # an empty shard, a URL that is not http(s)
            raise ConfigError(f"index_shards: {exc}") from None
        return IndexHandle(shards, settings.index_name)
    if settings.index_url:
        return IndexHandle(HttpIndexClient(settings.index_url), settings.index_name)
    engine = MultiIndex(settings.data_dir / "index")
    return IndexHandle(LocalIndexClient(engine), settings.index_name, engine)


def open_data_import(
    settings: Settings, dbs: Databases, index: IndexHandle
) -> OpenDataImport | None:
    """The cron's open data import (``data_import_url``); its fingerprints go to ``index``."""
    if not settings.data_import_url:
        return None
    return OpenDataImport(
        settings.data_import_url,
        functools.partial(flush_outbox, dbs, index.client, index.name),
    )


def open_databases(settings: Settings, *, web: bool = False) -> Databases:
    """Earmark's databases; ``web``: the web service's, whose PostgreSQL statements use generic
    plans (see :func:`earmark.db.engine.create_engine`)."""
    return Databases.from_settings(settings, generic_plans=web)


def open_mirror(settings: Settings, dbs: Databases) -> MusicBrainzDatabase:
    """The MusicBrainz mirror; on the fingerprint database's engine when both are one database,
    so that a lookup needs one connection, not two."""
    if url_key(musicbrainz_url(settings)) == url_key(dbs.urls["fingerprint"]):
        return MusicBrainzDatabase(dbs.fingerprint, settings.musicbrainz_schema)
    return MusicBrainzDatabase.from_settings(settings, generic_plans=True)


def searcher(index: IndexHandle) -> Searcher:
    return Searcher(index.client, index.name)


def open_clips(settings: Settings, dbs: Databases) -> ClipService:
    """The clip index of this process (docs/clip-identification.md "Where it lives"): a file
    under the data directory, written by the first process to lock it, caught up from the
    fingerprint database."""
    return ClipService(ClipIndex(settings.data_dir / "clips" / "clips.log"), dbs.fingerprint)


def api_services(
    settings: Settings,
    *,
    dbs: Databases,
    index: IndexHandle,
    counters: CounterBackends,
    mirror: MusicBrainzDatabase | None,
    queue: SubmissionQueue,
    closers: list[Callable[[], None]] | None = None,
) -> ApiServices:
    """The web service's handles over services the caller built (and closes); the clip index
    it opens is released by ``closers`` when given."""
    clips = open_clips(settings, dbs)
    if closers is not None:
        closers.append(clips.index.close)
    return ApiServices(
        dbs=dbs,
        searcher=searcher(index),
        mirror=mirror,
        keys=key_cache(settings, dbs),
        limits=open_rate_limits(settings),
        counters=counters,
        queue=queue,
        clips=clips,
        metadata_cache=(
            MetadataCache(settings.musicbrainz_cache_ttl, settings.musicbrainz_cache_size)
            if settings.musicbrainz_cache_ttl > 0
            else None
        ),
        config=ApiConfig(
            cluster_secret=str(settings.cluster_secret),
            musicbrainz_userinfo_url=settings.musicbrainz_userinfo_url,
            threads=settings.api_threads,
        ),
    )


# --- the web service's processes ---------------------------------------------------------


class NotReadyError(EarmarkError):
    """The databases are not at the newest migration (production never migrates by itself)."""

    exit_code = 3


@dataclass
class ApiRuntime:
    """One web-service process: the ASGI app and the handles it was built over.

    The app's lifespan starts and stops the queue and the ``background`` work; :meth:`close`
    (after the server stopped) releases the rest.
    """

    app: ASGIApp
    services: ApiServices
    background: list[Background] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: The health checks and /metrics, when they have a listener of their own (ops_address).
    ops_app: ASGIApp | None = None

    def close(self) -> None:
        release_all(self.closers)


class ImporterTask:
    """The in-process importer of ``earmark serve`` as background work of the app.

    :meth:`Worker.run` waits out the outages it knows (queue, database, index); anything else
    it raises (a pool timeout, a bug) would end the importer silently while submissions pile
    up. So the loop is restarted after ``first_pause`` seconds, doubling up to ``max_pause``
    while it keeps failing, each failure logged, until :meth:`stop`.
    """

    def __init__(
        self, worker: Worker, *, first_pause: float = 1.0, max_pause: float = 60.0
    ) -> None:
        self.worker = worker
        self.first_pause = first_pause
        self.max_pause = max_pause
        #: Times the worker loop ended with an error and was restarted.
        self.restarts = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._supervise(), name="earmark-importer-supervisor")

    async def _supervise(self) -> None:
        pause = self.first_pause
        while not self._stopping.is_set():
            try:
                await self.worker.start()
                return  # stopped on request
            except Exception:
                if self._stopping.is_set():
                    return
                self.restarts += 1
                log.exception("the in-process importer failed: restarting it in %gs", pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            pause = min(self.max_pause, pause * 2)

    async def stop(self) -> None:
        """Finish the submission being imported; the rest stays pending for the next start."""
        self._stopping.set()
        self.worker.request_stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self.worker.stop()
            await self._task


class CronTask:
    """The in-process cron of ``earmark serve`` (its own thread) as background work."""

    def __init__(self, scheduler: Scheduler, timeout: float = 60.0) -> None:
        self.scheduler = scheduler
        self.timeout = timeout

    async def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        # The last run drains the in-memory counters into the database: wait for it.
        if not await asyncio.to_thread(self.scheduler.stop, self.timeout):
            log.warning("the cron did not stop within %gs", self.timeout)


def traced(settings: Settings, app: ASGIApp, closers: list[Callable[[], None]]) -> ASGIApp:
    """``app`` with a span per request when ``otel_exporter_otlp_endpoint`` is set."""
    if not settings.otel_exporter_otlp_endpoint.strip():
        return app
    from earmark.tracing import start_tracing
    from earmark.tracing_asgi import TracingMiddleware

    tracing = start_tracing(settings.otel_exporter_otlp_endpoint, service="earmark-api")
    closers.append(tracing.close)
    return TracingMiddleware(app, tracing.tracer)


def open_embedded(settings: Settings) -> ApiRuntime:
    """``earmark serve``: the API, the website, the importer and the cron in one process.

    ``settings`` are :func:`earmark.embedded.embedded_settings` over an initialised data
    directory (:func:`earmark.embedded.initialise`). One table queue is shared by the API
    (``publish`` wakes the importer) and the importer; one set of in-memory counters by the
    API (counting) and the cron (draining).
    """
    closers: list[Callable[[], None]] = []
    try:
        dbs, index = _open_stores(settings, closers, web=True)
        mirror = open_mirror(settings, dbs)
        closers.append(mirror.dispose)
        counters = open_backends()
        closers.append(counters.close)
        queue = open_queue(settings, dbs)
        worker = Worker(
            dbs,
            searcher(index),
            queue,
            batch_size=settings.importer_batch_size,
            max_attempts=settings.queue_max_deliveries,
        )
        background: list[Background] = [
            ImporterTask(worker),
            CronTask(
                build_scheduler(
                    dbs,
                    counters,
                    mirror,
                    replication=configured_source(settings),
                    open_data=open_data_import(settings, dbs, index),
                )
            ),
        ]
        services = api_services(
            settings,
            dbs=dbs,
            index=index,
            counters=counters,
            mirror=mirror,
            queue=queue,
            closers=closers,
        )
        services.metrics.add_queue_collector(dbs, cache_ttl=settings.metrics_cache_ttl)
        services.metrics.register(OpenDataCollector(dbs))
        services.metrics.add_importer_collector(worker)
        separate = bool(settings.ops_address.strip())
        site = create_web_app(
            web_services(
                settings,
                dbs=dbs,
                mirror=mirror,
                searcher=searcher(index),
                counters=counters,
                clips=services.clips,
            )
        )
        # The catalog under /catalog, with the API's keys; its threads close with the runtime.
        catalog = catalog_services(settings, mirror=mirror, keys=services.keys)
        closers.append(functools.partial(_close_threads, catalog.threads))
        closers.append(catalog.store.close)
        combined = SiteAndApi(create_app(services, background, ops_routes=not separate), site)
        return ApiRuntime(
            traced(
                settings,
                WithCatalog(combined, create_catalog_app(catalog, own_lifespan=False)),
                closers,
            ),
            services,
            background,
            closers,
            ops_app=create_ops_app(services) if separate else None,
        )
    except BaseException:
        release_all(closers)
        raise


def _close_threads(pool: ThreadPool) -> None:
    if not pool.close(THREADS_CLOSE_WAIT_S):
        log.warning("catalog threads still busy %.0f s after shutdown", THREADS_CLOSE_WAIT_S)


def check_production(settings: Settings) -> None:
    """Refuse what would break a fleet: an in-process index, no Redis, databases not migrated."""
    if not remote_index(settings):
        raise ConfigError(
            "earmark run api needs index_url (an `earmark run index` server): an index engine "
            "inside each API process would not see the importer's writes. For one process "
            "with everything inside, use `earmark serve`."
        )
    if not settings.redis_url:
        # Counters kept in an API process's memory are never drained by a separate cron, and
        # each worker would enforce the rate limits on its own.
        raise ConfigError(
            "earmark run api needs redis_url: lookup statistics and rate limits are shared "
            "through Redis between API processes and the cron. For one process with "
            "everything inside, use `earmark serve`."
        )
    wait_for_services(settings, "api")
    check_migrated(settings)


def check_migrated(settings: Settings) -> None:
    """Raise :class:`NotReadyError` unless the databases answer and are at the newest revision
    (production never migrates by itself)."""
    dbs = open_databases(settings)
    try:
        if not migrate.is_current(dbs):
            raise NotReadyError(
                "the databases are not at the newest revision: run `earmark db upgrade`"
            )
    except sa.exc.OperationalError as exc:
        raise NotReadyError(
            f"cannot reach the database: {' '.join(str(exc.orig).split())}"
        ) from None
    finally:
        dbs.dispose()


def open_production(settings: Settings) -> ApiRuntime:
    """``earmark run api``: the API alone; the importer and cron run as their own processes.

    Databases, index server, queue (``queue``), counters and rate limits (Redis when
    ``redis_url`` is set) all come from ``settings``. Without the MusicBrainz tables the
    lookups answer without MusicBrainz metadata (logged here).
    """
    closers: list[Callable[[], None]] = []
    try:
        dbs, index = _open_stores(settings, closers, web=True)
        mirror = open_mirror(settings, dbs)
        closers.append(mirror.dispose)
        ready = mirror_ready(mirror)
        if not ready:
            log.warning(
                "no MusicBrainz tables at musicbrainz_database_url: lookups return no "
                "MusicBrainz metadata (see `earmark mb init` and `earmark mb import`)"
            )
        counters = open_backends(
            str(settings.redis_url),
            settings.redis_prefix,
            flush_interval=settings.counters_flush_interval,
        )
        closers.append(counters.close)
        services = api_services(
            settings,
            dbs=dbs,
            index=index,
            counters=counters,
            mirror=mirror if ready else None,
            queue=open_queue(settings, dbs),
            closers=closers,
        )
        services.metrics.add_queue_collector(dbs, cache_ttl=settings.metrics_cache_ttl)
        services.metrics.register(OpenDataCollector(dbs))
        if isinstance(index.client, ShardedIndexClient):
            services.metrics.add_shards_collector(index.client)
        separate = bool(settings.ops_address.strip())
        return ApiRuntime(
            traced(settings, create_app(services, ops_routes=not separate), closers),
            services,
            closers=closers,
            ops_app=create_ops_app(services) if separate else None,
        )
    except BaseException:
        release_all(closers)
        raise


def mirror_ready(mirror: MusicBrainzDatabase) -> bool:
    """True when the MusicBrainz subset's tables exist (``earmark mb init`` ran)."""
    schema = None if mirror.engine.dialect.name == "sqlite" else mirror.schema_name
    return sa.inspect(mirror.engine).has_table("recording", schema=schema)


# --- the website alone: `earmark run web` -------------------------------------------------


def check_web_production(settings: Settings) -> None:
    """Refuse what ``earmark run web`` cannot work with: no secret, databases not migrated."""
    web_config(settings)
    wait_for_services(settings, "web")
    check_migrated(settings)


def open_web(settings: Settings) -> WebRuntime:
    """``earmark run web``: the website alone over the settings' databases and mirror; the
    sign-in attempts counted in Redis when ``redis_url`` is set."""
    closers: list[Callable[[], None]] = []
    try:
        dbs = open_databases(settings, web=True)
        closers.append(dbs.dispose)
        mirror = open_mirror(settings, dbs)
        closers.append(mirror.dispose)
        ready = mirror_ready(mirror)
        if not ready:
            log.warning("no MusicBrainz tables at musicbrainz_database_url: pages show no titles")
        # /identify searches the index servers when there are some (a local index belongs
        # to the one process that writes it).
        found = None
        if remote_index(settings):
            index = open_index(settings)
            closers.append(index.close)
            found = searcher(index)
        services = web_services(settings, dbs=dbs, mirror=mirror if ready else None, searcher=found)
        return WebRuntime(create_web_app(services), services, closers)
    except BaseException:
        release_all(closers)
        raise


# --- the data directory's web service in this process (identify, import-audio) -------------


def open_local(settings: Settings) -> ApiRuntime:
    """The API over a data directory, for ``earmark identify`` and ``earmark import-audio``
    without ``--server``: no server, no importer, no cron, rate limits off (the only client is
    this process). The data directory is the all-in-one service's (:mod:`earmark.embedded`),
    whatever the settings say for production; it must be initialised and current (an older
    one is upgraded by ``earmark serve``, never behind its back by a lookup)."""
    settings = _unlimited(embedded.embedded_settings(settings))
    closers: list[Callable[[], None]] = []
    try:
        dbs, index = _open_stores(settings, closers, web=False)
        if not migrate.is_current(dbs):
            raise embedded.DataDirError(
                f"data directory {settings.data_dir} is at an older schema: run "
                f"`earmark serve --data-dir {settings.data_dir}` once to upgrade it"
            )
        counters = open_backends(str(settings.redis_url), settings.redis_prefix)
        closers.append(counters.close)
        mirror = _loaded_mirror(settings, dbs)
        if mirror is not None:
            closers.append(mirror.dispose)
        services = api_services(
            settings,
            dbs=dbs,
            index=index,
            counters=counters,
            mirror=mirror,
            queue=open_queue(settings, dbs),
            closers=closers,
        )
        return ApiRuntime(create_app(services), services, closers=closers)
    except BaseException:
        release_all(closers)
        raise


@asynccontextmanager
async def local_service(settings: Settings) -> AsyncIterator[LocalService]:
    """:func:`open_local` running in this process, with the administrator's keys
    (:data:`earmark.library.local.LocalFactory`)."""
    found = embedded.read_keys(embedded.embedded_settings(settings))  # raises if uninitialised
    runtime = open_local(settings)
    try:
        async with in_process(runtime.app, Keys(client=found.client, user=found.user)) as local:
            yield local
    finally:
        runtime.close()


def _unlimited(settings: Settings) -> Settings:
    """The settings with every rate limit off."""
    return dataclasses.replace(
        settings,
        rate_limit_application=0.0,
        rate_limit_global=0.0,
        rate_limit_ip=0.0,
        rate_limit_user=0.0,
        rate_limit_overrides="",
    )


def _loaded_mirror(settings: Settings, dbs: Databases) -> MusicBrainzDatabase | None:
    """The MusicBrainz mirror when one is loaded (an absent SQLite file is not created)."""
    default = not str(settings.musicbrainz_database_url)
    if default and not (settings.data_dir / "musicbrainz.db").exists():
        return None
    mirror = open_mirror(settings, dbs)
    try:
        if mirror_ready(mirror):
            return mirror
    except sa.exc.SQLAlchemyError:
        pass
    mirror.dispose()
    return None
