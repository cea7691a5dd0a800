"""OpenTelemetry traces: a lookup's span tree (request → index search, database statements).

The spans go to the SDK's in-memory exporter through :func:`earmark.tracing.start_tracing`,
the set-up the API uses with an OTLP endpoint. Runs on SQLite and PostgreSQL (``api``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from earmark.app import traced
from earmark.requestid import RequestIdMiddleware
from earmark.settings import Settings
from earmark.tracing import ACTIVE_TRACER, Tracing, start_tracing, trace_headers, traces_url
from earmark.tracing_asgi import TracingMiddleware
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import Song, load_songs


@pytest.fixture(scope="module")
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


@pytest.fixture
def spans() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = start_tracing("http://unused.invalid:4318", service="test", exporter=exporter)
    yield tracing, exporter
    tracing.close()


def test_a_lookup_makes_a_request_span_with_index_and_database_children(
    api: ApiHarness, songs: dict[str, Song], spans: tuple[Tracing, InMemorySpanExporter]
) -> None:
    tracing, exporter = spans
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    app = RequestIdMiddleware(TracingMiddleware(api.app, tracing.tracer))
    params = {"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length}
    response = TestClient(app).post(
        "/v2/lookup", data=params | {"meta": "recordingids"}, headers={"X-Request-Id": "trace-1"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["id"] == str(gid)
    tracing.provider.force_flush()

    finished = exporter.get_finished_spans()
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert request.name == "POST /v2/lookup"
    assert request.parent is None
    assert request.attributes is not None
    assert request.attributes["http.method"] == "POST"
    assert request.attributes["url.path"] == "/v2/lookup"
    assert request.attributes["http.status_code"] == 200
    assert request.attributes["earmark.request_id"] == "trace-1"
    assert request.resource.attributes["service.name"] == "test"
    context = request.get_span_context()
    assert context is not None
    children = [s for s in finished if s is not request]
    # Every other span is in the request's trace, directly under it.
    for child in children:
        assert child.parent is not None, child.name
        assert child.parent.span_id == context.span_id, child.name
        assert child.get_span_context().trace_id == context.trace_id  # type: ignore[union-attr]
    searches = [s for s in children if s.name == "index search"]
    assert searches, [s.name for s in children]
    statements = [s for s in children if s.name.startswith("db ")]
    assert any(s.name == "db SELECT" for s in statements), [s.name for s in children]
    system = "sqlite" if api.dbs.app.dialect.name == "sqlite" else "postgresql"
    for s in statements:
        assert s.attributes is not None
        assert s.attributes["db.system"] == system
        statement = s.attributes["db.statement"]
        assert isinstance(statement, str)
        assert 0 < len(statement) <= 200
        assert s.end_time is not None


def test_no_spans_outside_a_request_span(
    api: ApiHarness, songs: dict[str, Song], spans: tuple[Tracing, InMemorySpanExporter]
) -> None:
    """The index and database hooks stay inert without the middleware (tracing off)."""
    tracing, exporter = spans
    breeze = songs["breeze"]
    api.add_track(breeze.items, breeze.length)
    params = {"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length}
    assert api.client.post("/v2/lookup", data=params).status_code == 200
    tracing.provider.force_flush()
    assert exporter.get_finished_spans() == ()


def test_an_empty_endpoint_leaves_the_app_alone_and_imports_no_opentelemetry() -> None:
    app = RequestIdMiddleware(TracingMiddleware.__call__)  # any ASGI callable
    closers: list[Any] = []
    assert traced(Settings(), app, closers) is app
    assert closers == []
    # A fresh interpreter: the modules with tracing hooks load without OpenTelemetry. (Not
    # earmark.app: redis-py imports OpenTelemetry itself whenever it is installed.)
    code = (
        "import json, sys, earmark.search, earmark.db.engine, earmark.index.client;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules = json.loads(done.stdout)
    assert "earmark.search" in modules
    assert [m for m in modules if m.startswith("opentelemetry")] == []


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        (" http://collector:4318/ ", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_the_traces_url_follows_the_otlp_convention(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


def test_tracing_on_wraps_the_app_and_closes_with_the_runtime(tmp_path: Path) -> None:
    app = RequestIdMiddleware(TracingMiddleware.__call__)
    closers: list[Any] = []
    wrapped = traced(Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:9"), app, closers)
    assert isinstance(wrapped, TracingMiddleware)
    assert wrapped.app is app
    assert len(closers) == 1
    closers[0]()  # flushes nothing (no span) and stops the exporter


def test_calls_to_the_index_server_carry_the_current_span_as_traceparent(
    spans: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, _ = spans
    assert trace_headers() == {}  # no request span: nothing to propagate
    token = ACTIVE_TRACER.set(tracing.tracer)
    try:
        with tracing.tracer.start_as_current_span("request") as span:
            headers = trace_headers()
    finally:
        ACTIVE_TRACER.reset(token)
    context = span.get_span_context()
    assert list(headers) == ["traceparent"]
    # Version 00, the trace and the span, then the flags (sampled; 03 adds "random trace id").
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert int(flags, 16) & 1 == 1
