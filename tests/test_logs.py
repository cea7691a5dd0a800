"""JSON log lines and request ids: a real request's log lines carry its id; hostile ids are
replaced (earmark.logs, earmark.requestid)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from earmark.db.engine import create_engine
from earmark.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, sane_request_id
from tests.serve.process import Serve, clean_environment, wait_until

GENERATED = re.compile(r"[0-9a-f]{16}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 65,
        "a b",
        "id\r\nX-Injected: 1",
        '"quoted"',
        "<script>",
        "-leading-dash",
        "ünïcode",
        "id;drop",
    ],
)
def test_hostile_ids_are_refused(value: str) -> None:
    assert sane_request_id(value) is None


@pytest.mark.parametrize("value", ["abc", "3f2c9a1e-5b7d-4c1a-9e2f-0a1b2c3d4e5f", "lb:42.7_x"])
def test_sane_ids_are_kept(value: str) -> None:
    assert sane_request_id(value) == value


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    record = logging.LogRecord(
        "earmark.test",
        logging.ERROR,
        __file__,
        1,
        message,
        (),
        None if exc is None else (type(exc), exc, exc.__traceback__),
    )
    RequestIdFilter().filter(record)
    return record


def test_json_line_has_the_fields_and_the_exception() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        try:
            raise ValueError("broken\nacross lines")
        except ValueError as exc:
            line = JsonFormatter().format(_record('said "hi"\nthen left', exc))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "earmark.test"
    assert entry["message"] == 'said "hi"\nthen left'
    assert entry["request_id"] == "req-1"
    assert entry["time"].endswith("+00:00")
    assert "ValueError: broken" in entry["exception"]


def test_outside_a_request_there_is_no_id() -> None:
    entry = json.loads(JsonFormatter().format(_record("idle")))
    assert "request_id" not in entry
    assert "exception" not in entry


def _json_lines(text: str) -> list[dict[str, object]]:
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict)
        entries.append(entry)
    return entries


def test_request_ids_on_a_real_servers_log_lines(tmp_path: Path) -> None:
    env = clean_environment(EARMARK_LOG_FORMAT="json")
    server = Serve(tmp_path / "data", env, "--access-log")
    try:
        kept = httpx.get(server.url + "/v2/lookup", headers={"X-Request-Id": "trace-77"})
        hostile = httpx.get(server.url + "/v2/lookup", headers={"X-Request-Id": "x" * 300})
        plain = httpx.get(server.url + "/v2/lookup")

        def logged() -> list[dict[str, object]]:
            ids = {kept.headers["x-request-id"], hostile.headers["x-request-id"]}
            entries = _json_lines(server.stderr)
            return entries if ids <= {e.get("request_id") for e in entries} else []

        entries = wait_until(logged, 10, "the requests' log lines")
    finally:
        server.stop()
    assert kept.headers["x-request-id"] == "trace-77"
    assert GENERATED.fullmatch(hostile.headers["x-request-id"])
    assert GENERATED.fullmatch(plain.headers["x-request-id"])
    assert plain.headers["x-request-id"] != hostile.headers["x-request-id"]
    # The error answers are in the request's format, not 500s.
    assert kept.status_code == hostile.status_code == 400
    lines = [e for e in entries if e.get("request_id") == "trace-77"]
    assert any("/v2/lookup" in str(e["message"]) for e in lines), lines
    assert not any("x" * 65 in json.dumps(e) for e in entries)


def test_slow_statements_are_logged_with_the_request_id(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # A threshold of 0: every statement counts as slow, so the line is certain.
    engine = create_engine(f"sqlite:///{tmp_path / 'slow.db'}", slow_statement_s=0)
    caplog.handler.addFilter(RequestIdFilter())
    token = REQUEST_ID.set("req-db")
    try:
        with caplog.at_level(logging.WARNING, "earmark.db.engine"), engine.connect() as conn:
            conn.execute(sa.text("SELECT 42"))
    finally:
        REQUEST_ID.reset(token)
        engine.dispose()
    slow = [r for r in caplog.records if "slow statement" in r.getMessage()]
    assert slow, caplog.text
    assert "SELECT 42" in slow[-1].getMessage()
    assert getattr(slow[-1], "request_id", None) == "req-db"
