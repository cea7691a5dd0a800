"""The HTTP front of the index server (`earmark run index`) against hostile clients: its
refusals come in its own format, ``{"error": name}``. A real server process on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.serve.process import Process, clean_environment, earmark_command, wait_until
from tests.serve.raw_http import (
    answer_then_close,
    closed_by_server,
    connect,
    free_port,
    get,
    read_answer,
    stream_header,
)

CAP = 4


@pytest.fixture(scope="module")
def index_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    env = clean_environment(
        EARMARK_HTTP_HEAD_TIMEOUT="2",
        EARMARK_HTTP_MAX_CONNECTIONS=str(CAP),
    )
    data = tmp_path_factory.mktemp("index-front")
    argv = [*earmark_command(), "run", "index", "--dir", str(data), "--port", str(port)]
    proc = Process(argv, env, name="earmark run index")
    try:
        wait_until(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/_health", timeout=2).status_code == 200
                if proc.proc.poll() is None
                else pytest.fail(proc.describe())
            ),
            60,
            "index server health",
        )
        yield port
    finally:
        proc.stop()


def test_oversized_head_line_and_garbage_get_the_index_format(index_port: int) -> None:
    _, answer = stream_header(index_port, 5 * 1024 * 1024)
    assert answer is not None
    assert answer.status == 431
    assert answer.json() == {"error": "HeadersTooLarge"}
    with connect(index_port) as sock:
        sock.sendall(b"GET /main/_search?q=" + b"1," * 40_000)
        answer = answer_then_close(sock)
    assert (answer.status, answer.json()) == (414, {"error": "RequestLineTooLong"})
    with connect(index_port) as sock:
        sock.sendall(b"GET /m\xe4in HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = answer_then_close(sock)
    assert (answer.status, answer.json()) == (400, {"error": "BadRequest"})


def test_a_slow_head_gets_408_while_others_are_served(index_port: int) -> None:
    with connect(index_port) as slow:
        slow.sendall(b"GET /_health HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(f"http://127.0.0.1:{index_port}/_health", timeout=10).status_code == 200
        answer = answer_then_close(slow)
    assert (answer.status, answer.json()) == (408, {"error": "RequestTimeout"})
    with connect(index_port) as silent:
        assert closed_by_server(silent)


def test_the_connection_cap(index_port: int) -> None:
    held = [connect(index_port) for _ in range(CAP)]
    try:
        for sock in held:
            sock.sendall(get("/_health"))
            assert read_answer(sock)[0].status == 200
        with connect(index_port) as extra:
            extra.sendall(get("/_health"))
            answer = answer_then_close(extra)
        assert (answer.status, answer.json()) == (503, {"error": "TooManyConnections"})
        held[0].sendall(get("/_health"))
        assert read_answer(held[0])[0].status == 200
    finally:
        for sock in held:
            sock.close()


def test_pipelined_searches_still_work(index_port: int) -> None:
    with connect(index_port) as sock:
        sock.sendall(get("/_health") + get("/_health"))
        data = b""
        while len(re.findall(rb"HTTP/1.1 200", data)) < 2:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
