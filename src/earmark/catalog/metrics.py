"""Prometheus metrics of the catalog (``/metrics``), in a registry per app (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CatalogMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
        return generate_latest(self.registry)
