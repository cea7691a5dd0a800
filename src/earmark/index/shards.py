"""The index client over shards of replicas (setting ``index_shards``; docs/index-cluster.md).

- **Shard rule**: fingerprint ``id`` lives on shard ``id % number of shards`` (shards numbered
  from 0 in the order the setting lists them). The rule never changes with load, so a document
  is always read and written on the same shard; adding a shard moves the documents whose
  remainder changes (``earmark index rebuild`` with the new layout re-indexes them all).
- **Search**: the query goes to one replica of every shard at once (threads), and the answers
  are merged by score with the cut-offs one index would apply
  (:func:`~earmark.index.engine.search.merge_results`).
- **Replica choice**: the healthy replica with the fewest requests in flight (then the fewest
  sent). A connection error, a timeout or a 5xx answer marks the replica down for a back-off
  (doubling from ``backoff`` seconds up to a minute while it keeps failing) and the request
  goes to the next replica of the shard; replicas marked down are tried last, not never.
- **Writes** go to the shard of each document (metadata and index lifecycle to every shard),
  to its replicas in the listed order (the shard's writer first; a read-only replica's 403
  ``FeedIsReadOnly`` passes the write on), with the same failover: upserts and deletes may be
  repeated safely.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from earmark.index.client import HttpIndexClient, IndexServerError, u32
from earmark.index.engine import (
    Change,
    CreateResult,
    EngineError,
    IndexInfo,
    SearchParams,
    SearchResult,
    SearchTimeoutError,
    SetMetadata,
)
from earmark.index.engine.index import IndexStats, IndexStatus
from earmark.index.engine.search import (
    DEFAULT_LIMIT,
    DEFAULT_SCORE_PCT,
    DEFAULT_TIMEOUT_MS,
    merge_results,
)
from earmark.index.keepalive import IndexConnectionError

T = TypeVar("T")
MAX_BACKOFF = 60.0


def parse_shards(text: str) -> tuple[tuple[str, ...], ...]:
    """``"a,b;c"`` → ``(("a", "b"), ("c",))``: shards split by ``;``, replicas by ``,``."""
    shards = []
    for part in text.split(";"):
        urls = tuple(u.strip().rstrip("/") for u in part.split(",") if u.strip())
        if not urls:
            raise ValueError(f"an empty shard in {text!r}")
        shards.append(urls)
    return tuple(shards)


def shard_of(doc_id: int, shards: int) -> int:
    """The documented, stable shard rule."""
    return doc_id % shards


def _update(client: HttpIndexClient, *, name: str, part: list[Change], expected: int | None) -> int:
    return client.update(name, part, expected_version=expected)


def _failover_error(exc: EngineError) -> bool:
    if isinstance(exc, IndexConnectionError | SearchTimeoutError):
        return True
    return isinstance(exc, IndexServerError) and exc.status >= 500


@dataclass
class ReplicaStats:
    url: str
    shard: int
    requests: int = 0
    errors: int = 0
    failovers: int = 0


class Replica:
    def __init__(self, url: str, shard: int, client: HttpIndexClient) -> None:
        self.client = client
        self.stats = ReplicaStats(url, shard)
        self.in_flight = 0
        self.down_until = 0.0
        self.failures = 0


class ShardedIndexClient:
    """The :class:`~earmark.index.client.IndexClient` interface over shards of replicas."""

    def __init__(
        self,
        shards: Sequence[Sequence[str]],
        *,
        timeout: float = 10.0,
        backoff: float = 2.0,
        make_client: Callable[[str, float], HttpIndexClient] | None = None,
    ) -> None:
        make = make_client or (lambda url, t: HttpIndexClient(url, timeout=t))
        self.shards = [
            [Replica(url, n, make(url, timeout)) for url in urls] for n, urls in enumerate(shards)
        ]
        self.backoff = backoff
        self._lock = threading.Lock()
        workers = 4 * len(self.shards)
        self._pool = ThreadPoolExecutor(workers, "index-shard") if len(self.shards) > 1 else None

    # -- routing --------------------------------------------------------------------------

    def stats(self) -> list[ReplicaStats]:
        with self._lock:
            return [ReplicaStats(**vars(r.stats)) for shard in self.shards for r in shard]

    def _order(self, shard: int, *, write: bool) -> list[Replica]:
        now = time.monotonic()
        with self._lock:
            if write:  # in the listed order: the shard's writer first
                return sorted(self.shards[shard], key=lambda r: r.down_until > now)
            return sorted(
                self.shards[shard],
                key=lambda r: (r.down_until > now, r.in_flight, r.stats.requests),
            )

    def _on(self, shard: int, call: Callable[[HttpIndexClient], T], *, write: bool = False) -> T:
        """``call`` on the best replica of ``shard``, failing over to the others. A write
        refused by a read-only replica (403 FeedIsReadOnly) goes on to the next one."""
        order = self._order(shard, write=write)
        for n, replica in enumerate(order):
            with self._lock:
                replica.in_flight += 1
                replica.stats.requests += 1
            try:
                result = call(replica.client)
            except EngineError as exc:
                if write and exc.name == "FeedIsReadOnly" and n + 1 < len(order):
                    self._done(replica, ok=True)
                    continue
                if not _failover_error(exc):
                    self._done(replica, ok=True)
                    raise
                self._done(replica, ok=False)
                if n + 1 == len(order):
                    raise
                with self._lock:
                    replica.stats.failovers += 1
                continue
            self._done(replica, ok=True)
            return result
        raise AssertionError("a shard without replicas")  # parse_shards refuses those

    def _done(self, replica: Replica, *, ok: bool) -> None:
        with self._lock:
            replica.in_flight -= 1
            if ok:
                replica.failures = 0
                replica.down_until = 0.0
                return
            replica.stats.errors += 1
            replica.failures += 1
            wait = min(self.backoff * 2 ** (replica.failures - 1), MAX_BACKOFF)
            replica.down_until = time.monotonic() + wait

    def _everywhere(self, call: Callable[[HttpIndexClient], T], *, write: bool = False) -> list[T]:
        if self._pool is None:
            return [self._on(0, call, write=write)]
        shards = range(len(self.shards))
        # Each in a copy of this context: the request id goes on to every shard (earmark.logs).
        futures = [
            self._pool.submit(contextvars.copy_context().run, self._on, n, call, write=write)
            for n in shards
        ]
        return [f.result() for f in futures]

    # -- the IndexClient interface -------------------------------------------------------

    def create_index(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        results = self._everywhere(
            lambda c: c.create_index(
                name, expect_does_not_exist=expect_does_not_exist, generation=generation
            ),
            write=True,
        )
        return results[0]

    def delete_index(self, name: str, *, expect_exists: bool = False) -> bool:
        deleted = self._everywhere(
            lambda c: c.delete_index(name, expect_exists=expect_exists), write=True
        )
        return any(deleted)

    def index_exists(self, name: str) -> bool:
        return all(self._everywhere(lambda c: c.index_exists(name)))

    def get_index(self, name: str) -> IndexInfo:
        infos = self._everywhere(lambda c: c.get_index(name))
        metadata: dict[str, str] = {}
        for info in infos:
            metadata.update(info.metadata)
        tables = [i.stats for i in infos if i.stats.num_docs]
        stats = IndexStats(
            min_doc_id=min((s.min_doc_id for s in tables), default=0),
            max_doc_id=max((s.max_doc_id for s in tables), default=0),
            num_segments=sum(i.stats.num_segments for i in infos),
            num_docs=sum(i.stats.num_docs for i in infos),
        )
        return IndexInfo(max(i.version for i in infos), metadata, stats)

    def status(self, name: str) -> IndexStatus:
        """The first shard's status (versions are per shard)."""
        return self._on(0, lambda c: c.status(name))

    def update(
        self,
        name: str,
        changes: Sequence[Change],
        *,
        metadata: Mapping[str, str] | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Each shard's part as one update; the highest of the shards' new versions.
        ``expected_version`` only has a meaning on one shard."""
        n = len(self.shards)
        if expected_version is not None and n > 1:
            raise ValueError("expected_version needs a single shard")
        parts: list[list[Change]] = [[] for _ in range(n)]
        for change in changes:
            if isinstance(change, SetMetadata):
                for part in parts:
                    part.append(change)
            else:
                parts[shard_of(change.id, n)].append(change)
        if metadata:
            for part in parts:
                part.append(SetMetadata(tuple(metadata.items())))
        versions = [
            self._on(
                shard,
                partial(_update, name=name, part=part, expected=expected_version),
                write=True,
            )
            for shard, part in enumerate(parts)
            if part or n == 1
        ]
        return max(versions, default=0)

    def insert(self, name: str, doc_id: int, hashes: Iterable[int]) -> None:
        values = u32(hashes)
        shard = shard_of(doc_id, len(self.shards))
        self._on(shard, lambda c: c.insert(name, doc_id, values), write=True)

    def delete(self, name: str, doc_id: int) -> None:
        self._on(shard_of(doc_id, len(self.shards)), lambda c: c.delete(name, doc_id), write=True)

    def get_document(self, name: str, doc_id: int) -> int:
        shard = shard_of(doc_id, len(self.shards))
        return self._on(shard, lambda c: c.get_document(name, doc_id))

    def search(
        self,
        name: str,
        query: Iterable[int],
        *,
        limit: int = DEFAULT_LIMIT,
        min_score: int | None = None,
        score_pct: int = DEFAULT_SCORE_PCT,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> list[SearchResult]:
        terms: np.ndarray[tuple[int], np.dtype[np.uint32]] = u32(query)

        def one(c: HttpIndexClient) -> list[SearchResult]:
            return c.search(
                name,
                terms,
                limit=limit,
                min_score=min_score,
                score_pct=score_pct,
                timeout_ms=timeout_ms,
            )

        parts = self._everywhere(one)
        if len(parts) == 1:
            return parts[0]
        return merge_results(parts, SearchParams(terms, limit, min_score, score_pct, timeout_ms))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        for shard in self.shards:
            for replica in shard:
                replica.client.close()
