"""The index client's keep-alive pool against real HTTP/1.1 servers on 127.0.0.1.

The server counts the connections it accepts, so reuse (or its absence) is seen from the side
that pays for a new connection.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from earmark.index.client import HttpIndexClient
from earmark.index.engine import EngineError
from earmark.index.keepalive import Answer, IndexConnectionError, KeepAlivePool
from earmark.index.wire import StaleConnectionError, WireError

WAIT_S = 5.0


class _Server(ThreadingHTTPServer):
    """Counts accepted connections and signals each one it has finished with."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted = 0
        self.vanished = 0
        self.finished = threading.Semaphore(0)
        self.count_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        found = super().get_request()
        with self.count_lock:
            self.accepted += 1
        return found

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.finished.release()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_closed(self) -> None:
        """Until the server has closed one more connection (its own close or the client's)."""
        assert self.finished.acquire(timeout=WAIT_S), "no connection was closed"


class _Handler(BaseHTTPRequestHandler):
    """Echoes the method, path and body; ``/close`` says it closes, ``/drop`` closes silently."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._answer(b"")

    def do_PUT(self) -> None:
        self._answer(b"")

    def do_DELETE(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _answer(self, body: bytes) -> None:
        if getattr(self, "vanish", False):
            # The race of an idle timeout: the request arrived as the server closed the
            # connection; nothing is answered (and the server never acts on it).
            self.close_connection = True
            self.server.vanished += 1
            return
        self.vanish = self.path.endswith("/vanish-next")
        data = f"{self.command} {self.path} ".encode() + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if self.path.endswith("/close"):
            self.send_header("Connection", "close")  # also makes the handler close
        self.end_headers()
        self.wfile.write(data)
        if self.path.endswith("/drop"):
            # A keep-alive answer, then the server closes while the connection is idle (an
            # idle timeout, a restart).
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(WAIT_S)


@pytest.fixture
def pool(server: _Server) -> Iterator[KeepAlivePool]:
    found = KeepAlivePool(server.url, timeout=WAIT_S)
    yield found
    found.close()


def _get(pool: KeepAlivePool, path: str) -> Answer:
    return pool.request("GET", path, None, {})


def test_connections_are_reused(server: _Server, pool: KeepAlivePool) -> None:
    for n in range(10):
        answer = pool.request("POST", f"/x/{n}", f"body {n}".encode(), {})
        assert (answer.status, answer.reason) == (200, "OK")
        assert answer.body == f"POST /x/{n} body {n}".encode()
    assert _get(pool, "/y").body == b"GET /y "
    assert server.accepted == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(
    server: _Server, pool: KeepAlivePool
) -> None:
    assert _get(pool, "/drop").body == b"GET /drop "
    server.wait_closed()
    # The pooled connection is dead: the next request finds out before sending on it.
    assert _get(pool, "/after").body == b"GET /after "
    assert _get(pool, "/again").body == b"GET /again "
    assert server.accepted == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_request_meeting_an_idle_close_is_sent_again(
    server: _Server, pool: KeepAlivePool, method: str
) -> None:
    assert _get(pool, "/vanish-next").body == b"GET /vanish-next "
    # The pooled connection looks usable; the server closes it as the request arrives.
    answer = pool.request(method, "/x", None, {})
    assert answer.body == f"{method} /x ".encode()
    assert (server.vanished, server.accepted) == (1, 2)
    assert _get(pool, "/y").body == b"GET /y "  # the new connection is pooled
    assert server.accepted == 2


def test_a_post_meeting_an_idle_close_is_sent_again_only_when_repeatable(
    server: _Server, pool: KeepAlivePool
) -> None:
    assert _get(pool, "/vanish-next").body == b"GET /vanish-next "
    with pytest.raises(IndexConnectionError) as raised:
        pool.request("POST", "/update", b"ops", {})
    assert isinstance(raised.value.__cause__, StaleConnectionError)
    assert server.vanished == 1
    assert _get(pool, "/vanish-next").body == b"GET /vanish-next "
    answer = pool.request("POST", "/_search", b"q", {}, repeatable=True)
    assert answer.body == b"POST /_search q"
    assert (server.vanished, server.accepted) == (2, 3)


def test_an_answer_cut_after_its_first_bytes_is_not_sent_again() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        served: list[int] = []

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                conn.recv(65536)
                served.append(1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")  # then the server dies

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with closing(
            KeepAlivePool(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=WAIT_S)
        ) as pool:
            assert _get(pool, "/a").body == b"ok"
            with pytest.raises(IndexConnectionError) as raised:
                _get(pool, "/b")
        thread.join(WAIT_S)
    assert not isinstance(raised.value.__cause__, StaleConnectionError)
    assert served == [1]


def test_an_answer_with_connection_close_is_not_reused(
    server: _Server, pool: KeepAlivePool
) -> None:
    assert _get(pool, "/close").body == b"GET /close "
    assert _get(pool, "/close").body == b"GET /close "
    assert server.accepted == 2
    assert _get(pool, "/kept").body == b"GET /kept "
    assert _get(pool, "/kept").body == b"GET /kept "
    assert server.accepted == 3


def test_a_base_url_path_prefixes_every_request(server: _Server) -> None:
    with closing(KeepAlivePool(server.url + "/index/v1/", timeout=WAIT_S)) as prefixed:
        assert _get(prefixed, "/main/_status").body == b"GET /index/v1/main/_status "


def test_close_closes_idle_connections(server: _Server) -> None:
    closing_pool = KeepAlivePool(server.url, timeout=WAIT_S)
    _get(closing_pool, "/a")
    closing_pool.close()
    server.wait_closed()  # the server saw the client hang up
    # A closed pool still answers, but keeps no connection afterwards.
    assert _get(closing_pool, "/b").body == b"GET /b "
    server.wait_closed()
    assert server.accepted == 2


def test_concurrent_requests_all_succeed(server: _Server, pool: KeepAlivePool) -> None:
    threads, per_thread = 8, 15

    def work(t: int) -> list[bytes]:
        return [_get(pool, f"/t{t}/{n}").body for n in range(per_thread)]

    with ThreadPoolExecutor(threads) as executor:
        answers = list(executor.map(work, range(threads)))
    assert answers == [
        [f"GET /t{t}/{n} ".encode() for n in range(per_thread)] for t in range(threads)
    ]
    # No more connections than requests in flight at once.
    assert 1 <= server.accepted <= threads


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request_fails(port: int, timeout: float = WAIT_S) -> IndexConnectionError:
    """The error of one request to 127.0.0.1:``port`` through a fresh pool."""
    with (
        closing(KeepAlivePool(f"http://127.0.0.1:{port}", timeout=timeout)) as failing,
        pytest.raises(IndexConnectionError) as raised,
    ):
        _get(failing, "/x")
    return raised.value


def test_a_refused_connection_is_an_index_connection_error() -> None:
    error = _request_fails(_closed_port())
    assert isinstance(error, EngineError)
    assert error.name == "ServiceUnavailable"
    assert isinstance(error.__cause__, ConnectionRefusedError)


def test_a_server_that_never_answers_is_an_index_connection_error() -> None:
    # Connections queue in the backlog, never accepted, never answered.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        error = _request_fails(silent.getsockname()[1], timeout=0.3)
    assert isinstance(error.__cause__, TimeoutError)


@pytest.mark.parametrize("reply", [b"garbage\r\n\r\n", b""])
def test_a_garbage_answer_is_an_index_connection_error(reply: bytes) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_once() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        error = _request_fails(listener.getsockname()[1])
        thread.join(WAIT_S)
    assert isinstance(error.__cause__, WireError)


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "127.0.0.1:8080", "http:///no-host", "unix:///tmp/index.sock"]
)
def test_a_url_that_is_not_http_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        KeepAlivePool(url, timeout=1)


def test_http_index_client_on_a_closed_port_raises_index_connection_error() -> None:
    client = HttpIndexClient(f"http://127.0.0.1:{_closed_port()}", timeout=WAIT_S)
    try:
        with pytest.raises(IndexConnectionError):
            client.search("main", [1, 2, 3])
        with pytest.raises(IndexConnectionError):
            client.index_exists("main")  # HEAD
    finally:
        client.close()
