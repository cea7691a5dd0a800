"""What the catalog's handlers use, built by the composition root (:mod:`earmark.app_catalog`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from earmark.auth import KeyCache
from earmark.catalog.limits import CatalogLimits
from earmark.catalog.metrics import CatalogMetrics
from earmark.musicbrainz.catalog import ReplicationState
from earmark.musicbrainz.catalog_store import CatalogStore
from earmark.threadpool import ThreadPool

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CatalogConfig:
    #: Cache-Control max-age of the answers (setting catalog_cache_max_age).
    max_age: int = 300
    #: Bytes a request body may have (1 MiB).
    max_body: int = MAX_BODY_BYTES
    #: Blocking calls running at once (setting catalog_threads).
    threads: int = 10
    #: Seconds the replication sequence (the ETags' base) is reused before it is read again.
    state_ttl: float = 5.0


class StateCache:
    """The mirror's replication state, read at most once per ``ttl`` seconds (blocking)."""

    def __init__(
        self, store: CatalogStore, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._found: tuple[float, ReplicationState] | None = None

    def get(self) -> ReplicationState:
        with self._lock:
            now = self.clock()
            if self._found is not None and now < self._found[0]:
                return self._found[1]
            with self.store.read() as reader:
                state = reader.replication_state()
            self._found = (now + self.ttl, state)
            return state


@dataclass
class CatalogServices:
    """Handles of the catalog. Whoever builds them closes ``store`` and ``keys``' databases;
    the app's lifespan (``earmark run catalog``) or the runtime closes ``threads``/``limits``."""

    store: CatalogStore
    keys: KeyCache
    limits: CatalogLimits
    config: CatalogConfig = field(default_factory=CatalogConfig)
    metrics: CatalogMetrics = field(default_factory=CatalogMetrics)
    threads: ThreadPool = field(init=False)
    state: StateCache = field(init=False)

    def __post_init__(self) -> None:
        self.threads = ThreadPool(self.config.threads, "earmark-catalog")
        self.state = StateCache(self.store, self.config.state_ttl)
