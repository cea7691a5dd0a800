"""Prometheus metrics of the web service (``/metrics``), in a registry per app (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The counters and histograms handlers update; :meth:`render` is the exposition."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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

    def register(self, collector: Collector) -> None:
        """Add a collector computed at scrape time (importer queue depth, index state, …)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
