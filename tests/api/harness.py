"""The API under test: the real Starlette app over real databases, index, queue and counters.

Requests go through Starlette's TestClient (in process, lifespan run). Rate limits are off
unless a test passes its own :class:`~earmark.ratelimit.Rates`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
from starlette.testclient import TestClient

from earmark.api.app import create_app
from earmark.api.services import ApiConfig, ApiServices
from earmark.auth import KeyCache
from earmark.counters import open_backends
from earmark.db import accounts, applications, submissions, tracks
from earmark.db.engine import Databases
from earmark.importer.decide import import_submission
from earmark.importer.outcome import ImportOutcome
from earmark.importer.table_queue import TableQueue
from earmark.index.client import LocalIndexClient
from earmark.index.engine.multi import MultiIndex
from earmark.indexsync import flush_outbox
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import MemoryWindow, RateLimits, Rates
from earmark.search import Searcher

INDEX_NAME = "test"
CLUSTER_SECRET = "cluster-s3cret"
NO_LIMITS = Rates(application=0, global_=0, ip=0, user=0)


@dataclass
class ApiHarness:
    dbs: Databases
    index_root: Path
    mirror: MusicBrainzDatabase | None = None
    rates: Rates = NO_LIMITS
    config: ApiConfig = field(default_factory=lambda: ApiConfig(cluster_secret=CLUSTER_SECRET))
    key_cache_ttl: float = 0.0

    def __post_init__(self) -> None:
        self.engine = MultiIndex(self.index_root)
        self.searcher = Searcher(LocalIndexClient(self.engine), INDEX_NAME)
        self.counters = open_backends()
        self.services = ApiServices(
            dbs=self.dbs,
            searcher=self.searcher,
            mirror=self.mirror,
            keys=KeyCache(self.dbs, self.key_cache_ttl),
            limits=RateLimits(MemoryWindow(), self.rates),
            counters=self.counters,
            queue=TableQueue(self.dbs),
            config=self.config,
        )
        self.app = create_app(self.services)
        self.client = TestClient(self.app, raise_server_exceptions=True)
        self.client.__enter__()
        with self.dbs.write() as conns:
            account = accounts.create(conns.app, name="tester")
            app = applications.create(
                conns.app, name="Tester", version="1.0", account_id=account.id
            )
        self.account_id, self.application_id = account.id, app.id
        self.user_key, self.client_key = account.apikey, app.apikey

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.close()
        self.counters.close()

    # Requests.

    def call(
        self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] = (), **kw: Any
    ) -> Any:
        """POST ``params`` as a form to ``path``; the response (any status). A sequence of
        pairs keeps repeated keys in order."""
        if isinstance(params, Mapping):
            return self.client.post(path, data=params, **kw)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **kw.pop("headers", {})}
        return self.client.post(path, content=urlencode(list(params)), headers=headers, **kw)

    def json(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] = ()) -> Any:
        return self.call(path, params).json()

    # Data.

    def submit(
        self,
        items: Sequence[int] | npt.NDArray[np.integer],
        length: int,
        *,
        mbid: uuid.UUID | None = None,
        meta: Mapping[str, object] | None = None,
        puid: uuid.UUID | None = None,
        foreignid: str | None = None,
    ) -> int:
        """Store a submission directly (no HTTP); import it with :meth:`import_pending`."""
        with self.dbs.write() as conns:
            return submissions.create(
                conns.ingest,
                account_id=self.account_id,
                application_id=self.application_id,
                application_version="1.0",
                fingerprint=items,
                length=length,
                bitrate=None,
                format=None,
                meta=meta,
                mbid=mbid,
                puid=puid,
                foreignid=foreignid,
            )

    def import_pending(self) -> list[ImportOutcome]:
        """Import every pending submission, oldest first, and bring the index up to date."""
        with self.dbs.read() as conns:
            ids = submissions.pending_ids(conns.ingest, older_than=None, limit=10_000)
        outcomes = []
        for submission_id in sorted(ids):
            with self.dbs.write() as conns:
                outcomes.append(import_submission(conns, self.searcher, submission_id))
        flush_outbox(self.dbs, self.searcher.index, INDEX_NAME)
        return outcomes

    def add_track(
        self,
        items: Sequence[int] | npt.NDArray[np.integer],
        length: int,
        *,
        mbids: Sequence[uuid.UUID] = (),
        meta: Mapping[str, object] | None = None,
    ) -> uuid.UUID:
        """Submit and import a fingerprint (once per MBID); the gid of its track."""
        for mbid in mbids or [None]:
            self.submit(items, length, mbid=mbid, meta=meta or (None if mbids else {"track": "x"}))
        outcomes = self.import_pending()
        track_id = outcomes[-1].track_id
        assert track_id is not None, outcomes
        with self.dbs.read() as conns:
            found = tracks.get(conns.fingerprint, track_id)
        assert found is not None
        return found.gid
