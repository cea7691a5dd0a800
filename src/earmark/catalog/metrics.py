"""Prometheus metrics of the catalog (``/metrics``), in a registry per app (no globals).

With several worker processes (``earmark run catalog --workers N``) the runner prepares
prometheus_client's multiprocess mode before the workers start (as ``earmark run api`` does,
:func:`earmark.api.metrics.prepare_multiprocess`): each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and whichever worker answers ``/metrics`` exposes their sum.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CatalogMetrics:
    """The catalog's counters and histograms; :meth:`render` is the exposition.

    ``multiprocess_dir`` (default: the ``PROMETHEUS_MULTIPROC_DIR`` of the environment):
    expose the sum over every process writing there instead of this registry alone.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: str | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        if multiprocess_dir is None:
            multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.exposed = self.registry
        if multiprocess_dir:
            self.exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self.exposed, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        r = self.registry
        self.requests = Counter(
            "earmark_catalog_requests",
            "Catalog requests by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "earmark_catalog_request_duration_seconds",
            "Time spent answering catalog requests, by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "earmark_catalog_errors",
            "Catalog error responses by endpoint and error name.",
            ["endpoint", "error"],
            registry=r,
        )
        self.not_modified = Counter(
            "earmark_catalog_not_modified",
            "Requests answered 304 Not Modified (If-None-Match matched the ETag).",
            registry=r,
        )
        self.batch_ids = Histogram(
            "earmark_catalog_batch_ids",
            "Ids per /batch/lookup request.",
            buckets=(1, 10, 50, 100, 200, 400),
            registry=r,
        )

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.duration.labels(endpoint).observe(seconds)

    def error(self, endpoint: str, name: str) -> None:
        self.errors.labels(endpoint, name).inc()

    def render(self) -> bytes:
        return generate_latest(self.exposed)
