"""The HTTP front of the web service against hostile and broken clients (issue 23): a real
`earmark serve` on 127.0.0.1, raw sockets, outcomes asserted (statuses, envelopes, closed
connections, memory), never durations.

Timeouts are set short (2 s) so each slow-client test ends quickly; the caps keep their
defaults (64 KiB request line, 96 KiB head), which a long lookup URL must fit.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator

import httpx
import pytest

from earmark.api.front import render_catalog_error
from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.serve.process import Serve, clean_environment
from tests.serve.raw_http import (
    answer_then_close,
    closed_by_server,
    connect,
    get,
    read_answer,
    rss_bytes,
    stream_header,
)

SHORT = "2"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    env = clean_environment(
        EARMARK_HTTP_HEAD_TIMEOUT=SHORT,
        EARMARK_HTTP_KEEP_ALIVE_TIMEOUT=SHORT,
        EARMARK_HTTP_BODY_TIMEOUT=SHORT,
    )
    serve = Serve(tmp_path_factory.mktemp("front") / "data", env)
    try:
        yield serve
    finally:
        serve.stop()


def _port(server: Serve) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _envelope_code(body: bytes) -> int:
    import json

    data = json.loads(body)
    assert data["status"] == "error"
    return int(data["error"]["code"])


def test_a_streamed_oversized_head_is_refused_at_the_cap_and_memory_stays_flat(
    server: Serve,
) -> None:
    pid = server.proc.pid
    sent, answer = stream_header(_port(server), 1 * MB)
    assert answer is not None
    assert answer.status == 431
    assert _envelope_code(answer.body) == 19
    after_small = rss_bytes(pid)
    for _ in range(3):
        sent, answer = stream_header(_port(server), 50 * MB)
        assert answer is not None
        assert answer.status == 431
        # The server stopped reading at the cap: what it took is the cap plus what the
        # kernel's socket buffers held, nowhere near the 50 MB offered.
        assert sent < 20 * MB
    after_large = rss_bytes(pid)
    assert after_large - after_small < 16 * MB
    # Others are served meanwhile and after.
    assert httpx.get(server.url + "/_health", timeout=10).status_code == 200


def test_an_oversized_request_line_gets_414_in_the_envelope(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(b"GET /v2/lookup?fingerprint=" + b"A" * (100 * 1024) + b" HTTP/1.1\r\n")
        answer = answer_then_close(sock)
    assert answer.status == 414
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {
        "status": "error",
        "error": {"code": 19, "message": "request line too long"},
    }


def test_an_oversized_catalog_request_line_gets_414_in_the_envelope(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(b"GET /catalog/search/track?q=" + b"A" * (100 * 1024) + b" HTTP/1.1\r\n")
        answer = answer_then_close(sock)
    assert answer.status == 414
    assert answer.json()["error"] == {"code": 19, "message": "request line too long"}


def test_the_catalog_process_answers_every_refusal_in_the_envelope() -> None:
    # `earmark run catalog` serves nothing but the catalog: even an unreadable target is its.
    for status, target in ((431, b"/lookup/isrc/X"), (400, None)):
        answer = render_catalog_error(status, target)
        assert answer.status == status
        assert answer.content_type.startswith("application/json")
        assert json.loads(answer.body)["status"] == "error"


def test_an_oversized_v1_request_line_is_answered_in_xml(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(b"GET /lookup?fingerprint=" + b"A" * (70 * 1024))
        answer = answer_then_close(sock)
    assert answer.status == 414
    assert answer.headers["content-type"].startswith("text/xml")
    assert b"<code>19</code>" in answer.body


def test_raw_non_ascii_bytes_in_the_request_line_get_400_in_the_envelope(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(b"GET /v2/lo\xff\xfeokup?client=x HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = answer_then_close(sock)
    assert answer.status == 400
    assert answer.json() == {
        "status": "error",
        "error": {"code": 22, "message": "malformed HTTP request"},
    }


def test_garbage_outside_the_api_gets_plain_text(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = answer_then_close(sock)
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.body == b"malformed HTTP request"


def test_a_slow_head_is_closed_with_408_while_others_are_served(server: Serve) -> None:
    with connect(_port(server)) as slow:
        slow.sendall(b"GET /v2/lookup?client=x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for _ in range(3):
            assert httpx.get(server.url + "/_health", timeout=10).status_code == 200
        answer = answer_then_close(slow)
    assert answer.status == 408
    assert _envelope_code(answer.body) == 23


def test_a_connection_that_sends_nothing_is_closed(server: Serve) -> None:
    with connect(_port(server)) as silent:
        assert closed_by_server(silent)


def test_an_idle_keep_alive_connection_is_closed(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(get("/_health"))
        answer, rest = read_answer(sock)
        assert answer.status == 200
        assert rest == b""
        assert closed_by_server(sock)


def test_a_body_that_never_arrives_gets_408(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(
            b"POST /v2/submit HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"client=abc"
        )
        answer = answer_then_close(sock)
    assert answer.status == 408
    assert _envelope_code(answer.body) == 23


def test_pipelined_requests_are_all_answered(server: Serve) -> None:
    with connect(_port(server)) as sock:
        sock.sendall(get("/_health") + get("/v2/nothing-here") + get("/_health_docker"))
        first, rest = read_answer(sock)
        statuses = [first.status]
        bodies = [first.body]
        buffered = rest
        for _ in range(2):
            reader = _Prefixed(sock, buffered)
            answer, buffered = read_answer(reader)  # type: ignore[arg-type]
            statuses.append(answer.status)
            bodies.append(answer.body)
    assert statuses == [200, 404, 200]
    assert _envelope_code(bodies[1]) == 21


class _Prefixed:
    """A socket whose first reads return bytes already received."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self.sock = sock
        self.buffered = buffered

    def recv(self, size: int) -> bytes:
        if self.buffered:
            data, self.buffered = self.buffered, b""
            return data
        return self.sock.recv(size)


def test_a_60_kb_lookup_url_still_works(server: Serve) -> None:
    rng = random.Random(23)
    items = [rng.getrandbits(32) for _ in range(6_900)]
    fingerprint = encode_fingerprint_base64(items)
    url = f"/v2/lookup?client={server.client_key}&duration=300&fingerprint={fingerprint}"
    assert 55_000 < len(url) < 64 * 1024
    with connect(_port(server)) as sock:
        sock.sendall(get(url))
        answer, _ = read_answer(sock)
    assert answer.status == 200, answer.body[:300]
    assert answer.json()["status"] == "ok"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    env = clean_environment(EARMARK_HTTP_MAX_CONNECTIONS="6")
    serve = Serve(tmp_path_factory.mktemp("capped") / "data", env)
    try:
        yield serve
    finally:
        serve.stop()


def test_beyond_the_connection_cap_a_new_connection_gets_503_and_is_closed(
    capped: Serve,
) -> None:
    port = _port(capped)
    held = [connect(port) for _ in range(6)]
    try:
        for sock in held:  # each one accepted and served: the cap is reached
            sock.sendall(get("/_health_docker"))
            assert read_answer(sock)[0].status == 200
        with connect(port) as extra:
            extra.sendall(get("/v2/lookup?client=x"))
            answer = answer_then_close(extra)
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        assert _envelope_code(answer.body) == 13
        with connect(port) as extra:
            extra.sendall(get("/_health"))
            assert answer_then_close(extra).body == b"too many connections, try again later"
        # The connections already open still work.
        for sock in held[:2]:
            sock.sendall(get("/_health_docker"))
            assert read_answer(sock)[0].status == 200
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, new connections are served again.
    _eventually_served(port)


def _eventually_served(port: int, attempts: int = 100) -> None:
    for _ in range(attempts):
        with connect(port) as sock:
            sock.sendall(get("/_health_docker"))
            if read_answer(sock)[0].status == 200:
                return
    pytest.fail("no connection was served after the held ones closed")
