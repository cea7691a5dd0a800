"""What the web service's handlers use, built by the composition root (:mod:`earmark.app`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from earmark.api.metrics import ApiMetrics
from earmark.auth import KeyCache
from earmark.clipsync import ClipService
from earmark.counters import CounterBackends
from earmark.db.engine import Databases
from earmark.importer.queue import SubmissionQueue
from earmark.musicbrainz.cache import MetadataCache
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import RateLimits
from earmark.search import Searcher
from earmark.threadpool import ThreadPool


@dataclass(frozen=True)
class ApiConfig:
    """The settings the handlers read."""

    cluster_secret: str = ""
    musicbrainz_userinfo_url: str = "https://musicbrainz.org/oauth2/userinfo"
    #: Blocking calls (database, index) running at once in the process (setting api_threads).
    threads: int = 10


@dataclass
class Health:
    """Turns ``/_health`` to 503 once a shutdown has begun (load balancers drain first)."""

    shutting_down: threading.Event = field(default_factory=threading.Event)

    def begin_shutdown(self) -> None:
        self.shutting_down.set()


@dataclass
class ApiServices:
    """Handles of one API process. Whoever builds them closes them (the app's lifespan does
    not own ``dbs``, ``mirror``, ``counters``: they may be shared with the importer and cron)."""

    dbs: Databases
    searcher: Searcher
    mirror: MusicBrainzDatabase | None
    keys: KeyCache
    limits: RateLimits
    counters: CounterBackends
    queue: SubmissionQueue
    #: Recently looked-up MusicBrainz metadata (None: every lookup asks the mirror).
    metadata_cache: MetadataCache | None = None
    #: The clip index behind ``/v2/identify`` (None: that endpoint answers 13).
    clips: ClipService | None = None
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    config: ApiConfig = field(default_factory=ApiConfig)
    health: Health = field(default_factory=Health)
    #: Where handlers run their blocking work (:meth:`earmark.api.call.Call.thread`); the
    #: app's lifespan closes it. ``config.threads`` threads.
    threads: ThreadPool = field(init=False)

    def __post_init__(self) -> None:
        self.threads = ThreadPool(self.config.threads, "earmark-api")
        # Requests let through while Redis is away show in /metrics, whoever built the limits.
        if self.limits.on_unavailable is None:
            self.limits.on_unavailable = self.metrics.unchecked
