"""Prometheus metrics of the web service (``/metrics``), in a registry per app (no globals).

The reference only pushes statsd (§14); Earmark exposes the same facts for Prometheus:
requests and durations by endpoint, errors by AcoustID error name, lookup hits and misses,
rate-limit rejections by bucket, requests let through unchecked while Redis was away, and
collectors computed at scrape time (the importer's queue depth and lag, an in-process
importer's counters).

Wiring, for whoever builds the services:

* ``metrics.add_queue_collector(dbs, cache_ttl=...)``: ``earmark_importer_queue_depth`` and
  ``earmark_importer_queue_lag_seconds`` from the ``pending_submission`` table (both queue
  backends write it), read at most once per ``cache_ttl`` seconds (setting
  ``metrics_cache_ttl``), not at every scrape.
* ``metrics.add_importer_collector(worker)``: the counters of an importer
  :class:`~earmark.importer.worker.Worker` running in this process (``earmark serve``).
* Several API worker processes (``earmark run api --workers N``): the runner calls
  :func:`prepare_multiprocess` with a private directory *before* starting the workers. Each
  worker then writes its counters to files there, and whichever worker answers a scrape sums
  them all (prometheus_client's multiprocess mode). Scrape-time collectors run in the worker
  that answers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from earmark.db import submissions
from earmark.db.engine import Databases
from earmark.importer.worker import ImporterStats
from earmark.index.shards import ReplicaStats

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The variable prometheus_client reads (when it is imported) to write metrics to files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WARN_EVERY_S = 60.0


def prepare_multiprocess(path: str | os.PathLike[str]) -> Path:
    """Make this process and the worker processes it starts afterwards share metrics through
    files in ``path`` (created; files of an earlier run are removed, their processes are gone).

    Call it in the parent before the workers start: they inherit the environment variable and
    write there from their first metric on. Metrics created in this process before the call
    stay private to it.
    """
    directory = Path(path).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus_client chose its value class at import time, before the variable existed.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return directory


class ApiMetrics:
    """The counters and histograms handlers update; :meth:`render` is the exposition.

    ``multiprocess_dir`` (default: the ``PROMETHEUS_MULTIPROC_DIR`` set by
    :func:`prepare_multiprocess`): expose the sum over every process writing there instead of
    this registry alone.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: str | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        if multiprocess_dir is None:
            multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir:
            self.exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self.exposed, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            self.exposed = self.registry
        r = self.registry
        self.requests = Counter(
            "earmark_api_requests",
            "API requests by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "earmark_api_request_duration_seconds",
            "Time spent answering API requests, by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "earmark_api_errors",
            "API error responses by endpoint and AcoustID error name.",
            ["endpoint", "error"],
            registry=r,
        )
        self.lookups = Counter(
            "earmark_api_lookups",
            "Fingerprint lookups by outcome (hit: at least one track).",
            ["result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "earmark_api_rate_limited",
            "Requests rejected by a rate limit, by bucket (app, user, global, ip).",
            ["bucket"],
            registry=r,
        )
        self.rate_limit_unchecked = Counter(
            "earmark_api_rate_limit_unchecked",
            "Requests allowed without a rate-limit check because Redis could not be reached.",
            registry=r,
        )
        self.submissions = Counter(
            "earmark_api_submissions",
            "Submissions stored by /v2/submit and /submit.",
            registry=r,
        )

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.duration.labels(endpoint).observe(seconds)

    def error(self, endpoint: str, name: str) -> None:
        self.errors.labels(endpoint, name).inc()

    def lookup(self, hits: int, misses: int) -> None:
        if hits:
            self.lookups.labels("hit").inc(hits)
        if misses:
            self.lookups.labels("miss").inc(misses)

    def unchecked(self) -> None:
        """A request went through without a rate-limit check (``RateLimits.on_unavailable``)."""
        self.rate_limit_unchecked.inc()

    def register(self, collector: Collector) -> None:
        """Add a collector computed at scrape time (importer queue depth, index state, …)."""
        self.exposed.register(collector)

    def add_queue_collector(self, dbs: Databases, *, cache_ttl: float = 0.0) -> None:
        """Expose the importer queue's depth and lag, read from ``dbs`` at most once every
        ``cache_ttl`` seconds (setting ``metrics_cache_ttl``; 0: at every scrape)."""
        self.register(QueueCollector(dbs, cache_ttl=cache_ttl))

    def add_importer_collector(self, worker: HasImporterStats) -> None:
        """Expose the counters of an importer worker running in this process."""
        self.register(ImporterCollector(worker))

    def add_shards_collector(self, client: HasReplicaStats) -> None:
        """Expose the index client's per-replica requests, errors and failovers."""
        self.register(ShardsCollector(client))

    def render(self) -> bytes:
        """The exposition; it may query the database (scrape-time collectors), so call it from
        a worker thread in async code."""
        return generate_latest(self.exposed)


class QueueCollector(Collector):
    """``earmark_importer_queue_{depth,lag_seconds,up}`` from the ``pending_submission`` table.

    When the database does not answer, only ``..._up 0`` is exposed (and a warning logged at
    most once a minute): a scrape must not fail because one of its sources did.

    What was read (or that it could not be) is reused for ``cache_ttl`` seconds, so scrapes
    however frequent (several Prometheus servers, a dashboard, someone hammering a public
    ``/metrics``) cost the database one query per period; concurrent scrapes share one read.
    """

    def __init__(
        self, dbs: Databases, *, cache_ttl: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.dbs = dbs
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._warned = -_WARN_EVERY_S
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._clock()
            if self._cached is not None and now < self._cached[0]:
                return self._cached[1]
            families = self._read()
            if self.cache_ttl > 0:
                self._cached = (now + self.cache_ttl, families)
            return families

    def _read(self) -> list[Metric]:
        try:
            with self.dbs.read() as conns:
                backlog = submissions.backlog(conns.ingest)
        except Exception as exc:
            now = time.monotonic()
            if now - self._warned >= _WARN_EVERY_S:
                self._warned = now
                log.warning("metrics: cannot read the submission queue (%s)", type(exc).__name__)
            return self._families(up=0.0)
        return self._families(backlog.pending, backlog.oldest_age, 1.0)

    @staticmethod
    def _families(
        depth: float | None = None, lag: float | None = None, up: float | None = None
    ) -> list[Metric]:
        up_family = GaugeMetricFamily(
            "earmark_importer_queue_up",
            "1 when the submission queue could be read for this scrape, else 0.",
        )
        depth_family = GaugeMetricFamily(
            "earmark_importer_queue_depth", "Submissions waiting to be imported."
        )
        lag_family = GaugeMetricFamily(
            "earmark_importer_queue_lag_seconds",
            "Age of the oldest submission waiting to be imported (0 when none waits).",
        )
        if up is not None:
            up_family.add_metric([], up)
        if depth is not None and lag is not None:
            depth_family.add_metric([], depth)
            lag_family.add_metric([], lag)
            return [up_family, depth_family, lag_family]
        return [up_family] if up is not None else [up_family, depth_family, lag_family]


class HasImporterStats(Protocol):
    """An importer worker (:class:`earmark.importer.worker.Worker`): what the collector reads."""

    @property
    def stats(self) -> ImporterStats: ...


#: ImporterStats fields that count import outcomes (the rest are counters of their own).
_OUTCOMES = ("imported", "skipped", "already", "missing", "busy", "failed")


class ImporterCollector(Collector):
    """An in-process importer's :class:`ImporterStats` as counters:
    ``earmark_importer_outcomes_total{outcome}`` and ``earmark_importer_<field>_total``."""

    def __init__(self, worker: HasImporterStats) -> None:
        self.worker = worker

    def describe(self) -> Iterable[Metric]:
        return self._families(ImporterStats())

    def collect(self) -> Iterable[Metric]:
        return self._families(self.worker.stats)

    @staticmethod
    def _families(stats: ImporterStats) -> Iterator[Metric]:
        counts = stats.as_dict()
        outcomes = CounterMetricFamily(
            "earmark_importer_outcomes",
            "Submissions handled by the in-process importer, by outcome.",
            labels=["outcome"],
        )
        for name in _OUTCOMES:
            outcomes.add_metric([name], counts.get(name, 0))
        yield outcomes
        for name, value in counts.items():
            if name not in _OUTCOMES:
                yield CounterMetricFamily(
                    f"earmark_importer_{name}",
                    f"In-process importer: {name.replace('_', ' ')} since it started.",
                    value=value,
                )


class HasReplicaStats(Protocol):
    """The sharded index client (:class:`earmark.index.shards.ShardedIndexClient`)."""

    def stats(self) -> list[ReplicaStats]: ...


class ShardsCollector(Collector):
    """``earmark_index_replica_{requests,errors,failovers}_total{shard,replica}``."""

    def __init__(self, client: HasReplicaStats) -> None:
        self.client = client

    def describe(self) -> Iterable[Metric]:
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        return self._families(self.client.stats())

    @staticmethod
    def _families(stats: list[ReplicaStats]) -> Iterator[Metric]:
        for field, help_text in (
            ("requests", "Index requests sent to each replica."),
            ("errors", "Connection errors, timeouts and 5xx answers of each index replica."),
            ("failovers", "Index requests moved from a failing replica to the next one."),
        ):
            family = CounterMetricFamily(
                f"earmark_index_replica_{field}", help_text, labels=["shard", "replica"]
            )
            for s in stats:
                family.add_metric([str(s.shard), s.url], getattr(s, field))
            yield family
