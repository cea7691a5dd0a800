"""The composition root: builds Earmark's services from settings (no globals anywhere else).

Entry points (`earmark serve`, `earmark run ROLE`, maintenance commands) call these builders and
pass the handles down; whoever builds a handle closes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from earmark.api.services import ApiConfig, ApiServices
from earmark.auth import KeyCache
from earmark.counters import CounterBackends
from earmark.db.engine import Databases
from earmark.importer.queue import SubmissionQueue
from earmark.index.client import HttpIndexClient, IndexClient, LocalIndexClient
from earmark.index.engine import MultiIndex
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import open_rate_limits
from earmark.search import Searcher
from earmark.settings import Settings


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


def open_index(settings: Settings) -> IndexHandle:
    if settings.index_url:
        return IndexHandle(HttpIndexClient(settings.index_url), settings.index_name)
    engine = MultiIndex(settings.data_dir / "index")
    return IndexHandle(LocalIndexClient(engine), settings.index_name, engine)


def open_databases(settings: Settings) -> Databases:
    return Databases.from_settings(settings)


def searcher(index: IndexHandle) -> Searcher:
    return Searcher(index.client, index.name)


def api_services(
    settings: Settings,
    *,
    dbs: Databases,
    index: IndexHandle,
    counters: CounterBackends,
    mirror: MusicBrainzDatabase | None,
    queue: SubmissionQueue,
) -> ApiServices:
    """The web service's handles over services the caller built (and closes)."""
    return ApiServices(
        dbs=dbs,
        searcher=searcher(index),
        mirror=mirror,
        keys=KeyCache(dbs, settings.key_cache_ttl),
        limits=open_rate_limits(settings),
        counters=counters,
        queue=queue,
        config=ApiConfig(
            cluster_secret=str(settings.cluster_secret),
            musicbrainz_userinfo_url=settings.musicbrainz_userinfo_url,
        ),
    )
