"""OpenTelemetry traces, imported only when ``otel_exporter_otlp_endpoint`` is set.

:func:`start_tracing` builds a tracer provider that batches spans to an OTLP/HTTP collector (or
to the exporter a test hands it). The request span of :mod:`earmark.tracing_asgi` sets
:data:`ACTIVE_TRACER` for the request's context; the hooks here (index searches, database
statements) make child spans only while it is set, so with tracing off they cost one context
variable read and nothing of ``opentelemetry`` is imported (the CLI starts fast).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from earmark.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer
    from opentelemetry.util.types import AttributeValue

#: The tracer while a request span is active in this context; None otherwise.
ACTIVE_TRACER: ContextVar[Tracer | None] = ContextVar("earmark_tracer", default=None)

#: ``db.statement`` is cut to this many characters (a batch insert's SQL can be long).
STATEMENT_CHARS = 200


@dataclass(frozen=True)
class Tracing:
    """A tracer and the provider that exports its spans; :meth:`close` flushes and stops."""

    provider: TracerProvider
    tracer: Tracer

    def close(self) -> None:
        self.provider.shutdown()


def traces_url(endpoint: str) -> str:
    """The collector's traces URL: the OTLP convention appends ``/v1/traces`` to the base."""
    base = endpoint.strip().rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def start_tracing(endpoint: str, *, service: str, exporter: SpanExporter | None = None) -> Tracing:
    """A provider batching spans to ``endpoint`` over OTLP/HTTP, or to ``exporter`` (tests)."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=traces_url(endpoint))
    except ImportError as exc:
        raise ConfigError(
            "otel_exporter_otlp_endpoint is set but OpenTelemetry is not installed: "
            "pip install 'earmark[tracing]'"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider, provider.get_tracer("earmark"))


@contextmanager
def child_span(name: str, attributes: Mapping[str, AttributeValue]) -> Iterator[None]:
    """A span under the request's span while one is active; nothing otherwise."""
    tracer = ACTIVE_TRACER.get()
    if tracer is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def trace_headers() -> dict[str, str]:
    """W3C ``traceparent`` of the current span for an outgoing call; empty when not tracing."""
    if ACTIVE_TRACER.get() is None:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier
