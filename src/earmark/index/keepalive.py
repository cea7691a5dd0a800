"""HTTP/1.1 keep-alive connections to an index server, for the HTTP index client.

:mod:`earmark.index.wire` connections in a small pool: a lookup asks the index once, and a
general-purpose client (httpx) spent three times the CPU of the search itself on its request
and response models (``http.client``, still more than the search, on parsing headers).
Connections are thread-safe to share through the pool (each request takes
one connection for itself), reused last-in first-out, and dropped when the server says it will
close them. Before reuse an idle connection is checked for a close the server sent meanwhile
(its socket readable while no answer is due), as httpx does, so a server restart or its idle
timeout does not fail the next request. That check cannot see a close on its way: when the
server's idle timeout closes the connection just as a request leaves, the request fails with
no byte answered (:class:`~earmark.index.wire.StaleConnectionError`), and a request safe to repeat
(every method but POST, and searches) is sent once more on a new connection. Transport
failures raise :class:`IndexConnectionError`.
"""

from __future__ import annotations

import select
import ssl
import threading
import urllib.parse
from dataclasses import dataclass

from earmark.index.engine import EngineError
from earmark.index.wire import Connection, StaleConnectionError

#: Idle connections kept per pool; more are closed when returned.
MAX_IDLE = 32


class IndexConnectionError(EngineError):
    """The index server could not be reached or did not answer (refused, timeout, garbage)."""

    name = "ServiceUnavailable"


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes


class KeepAlivePool:
    """Keep-alive connections to the server at ``base_url`` (``http://`` or ``https://``)."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        repeatable: bool | None = None,
    ) -> Answer:
        """One request; ``repeatable`` (default: every method but POST) lets it be sent again
        on a new connection when a reused one turns out closed by the server."""
        if repeatable is None:
            repeatable = method != "POST"
        conn = self._take()
        try:
            try:
                reply = conn.request(method, self._prefix + path, body, headers)
            except StaleConnectionError:
                if not repeatable:
                    raise
                conn.close()
                conn = self._open()  # a new connection: it cannot be stale
                reply = conn.request(method, self._prefix + path, body, headers)
        except OSError as exc:  # WireError, a timeout, a refused or reset connection
            conn.close()
            raise IndexConnectionError(f"index server at {self._where()}: {exc!r}") from exc
        if reply.will_close:
            conn.close()
        else:
            self._give(conn)
        return Answer(reply.status, reply.reason, reply.body)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._open()
            if _usable(conn):
                return conn
            conn.close()

    def _give(self, conn: Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self) -> Connection:
        return Connection(self._host, self._port, timeout=self._timeout, tls=self._tls)

    def _where(self) -> str:
        return f"{self._host}:{self._port}"


def _usable(conn: Connection) -> bool:
    """False when the server closed (or wrote to) an idle connection since its last answer."""
    if conn.pending:
        return False
    sock = conn.sock
    if sock is None:
        return True  # never connected, or closed cleanly: the next request connects
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False
