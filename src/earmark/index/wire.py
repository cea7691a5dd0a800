"""One HTTP/1.1 client connection over a socket: what the index client needs and no more.

A request is written in one ``sendall``; the answer's head is read into a buffer and split by
hand, its body read by ``Content-Length``, by chunks (``Transfer-Encoding: chunked``, as Go's
server sends longer answers) or until the server closes. ``http.client`` parses every answer's
headers with the ``email`` package, which cost more than the index's search. Heads over
:data:`MAX_HEAD` and bodies over :data:`MAX_BODY` are refused (a broken or hostile server must
not make the client buffer without end). Errors are :class:`WireError` (an ``OSError``) or the
socket's own ``OSError``; :class:`StaleConnectionError` says a reused connection was closed by the
server before it answered anything, which a caller may retry on a new connection.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
_READ = 64 * 1024
_MAX_TRAILERS = 100


class WireError(OSError):
    """The server's answer is not HTTP/1.x as this client reads it."""


class _PeerClosedError(WireError):
    """The server closed the connection before its answer ended."""


class StaleConnectionError(WireError):
    """A connection that had answered before was closed by the server before any byte of the
    next answer: the server closed it as idle while the request was on its way (a keep-alive
    timeout), so it never handled the request. The request can be sent again on a new
    connection (a server that failed after reading it looks the same, so only a request that
    is safe to repeat should be)."""


_CLOSED_BY_PEER = (_PeerClosedError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes
    #: The server will close the connection (or already did): do not reuse it.
    will_close: bool


class Connection:
    """A keep-alive connection to ``host:port`` (connected at the first request)."""

    def __init__(
        self, host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.tls = tls
        self.sock: socket.socket | None = None
        self._buffer = b""
        self._answers = 0  # answers read in full on the current socket
        self._received = False  # any byte of the current answer
        self._host_header = f"[{host}]" if ":" in host else host
        if port not in (80, 443):
            self._host_header += f":{port}"

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Reply:
        if self.sock is None:
            self.sock = self._connect()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        reused, self._received = self._answers > 0, False
        try:
            self.sock.sendall(head + body if body else head)
            reply = self._reply(method)
        except _CLOSED_BY_PEER as exc:
            if reused and not self._received:
                raise StaleConnectionError(
                    f"the server closed the idle connection: {exc!r}"
                ) from exc
            raise
        self._answers += 1
        return reply

    @property
    def pending(self) -> bool:
        """Bytes the server sent beyond its last answer (the connection is then unusable)."""
        return bool(self._buffer)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""
        self._answers = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            return self.tls.wrap_socket(sock, server_hostname=self.host)
        return sock

    def _reply(self, method: str) -> Reply:
        while True:
            head = self._read_head()
            status_line, *header_lines = head.split(b"\r\n")
            version, status, reason = _status(status_line)
            # An interim answer (100 Continue, 103 Early Hints) comes before the real one.
            if not 100 <= status < 200 or status == 101:
                break
        headers: dict[bytes, bytes] = {}
        for line in header_lines:
            name, sep, value = line.partition(b":")
            if not sep:
                raise WireError(f"malformed header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        tokens = {t.strip() for t in headers.get(b"connection", b"").lower().split(b",")}
        old_http = version == b"HTTP/1.0" and b"keep-alive" not in tokens
        will_close = b"close" in tokens or old_http or status == 101
        if method == "HEAD" or status in (101, 204, 304):
            body = b""
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = self._read_chunked()
        elif b"content-length" in headers:
            body = self._read_exactly(_length(headers[b"content-length"]))
        else:
            body, will_close = self._read_to_end(), True
        return Reply(status, reason, body, will_close)

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(_READ)
        if not data:
            raise _PeerClosedError("the server closed the connection before its answer ended")
        self._received = True
        return data

    def _read_head(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end > MAX_HEAD or (end < 0 and len(self._buffer) > MAX_HEAD):
                raise WireError(f"the answer's head is over {MAX_HEAD} bytes")
            if end >= 0:
                head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
                return head
            self._buffer += self._recv()

    def _read_line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
                return line
            if len(self._buffer) > MAX_HEAD:
                raise WireError("a chunk line is too long")
            self._buffer += self._recv()

    def _read_exactly(self, size: int) -> bytes:
        parts = [self._buffer[:size]]
        have = len(parts[0])
        self._buffer = self._buffer[size:]
        while have < size:
            data = self._recv()
            parts.append(data[: size - have])
            if len(data) > size - have:
                self._buffer = data[size - have :]
            have += len(parts[-1])
        return b"".join(parts)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError(f"malformed chunk size {size_text[:20]!r}") from None
            if size < 0:
                raise WireError("negative chunk size")
            if size == 0:
                for _ in range(_MAX_TRAILERS):  # trailers, up to the empty line
                    if not self._read_line():
                        return b"".join(parts)
                raise WireError("too many trailer lines")
            total += size
            if total > MAX_BODY:
                raise WireError(f"the answer's body is over {MAX_BODY} bytes")
            parts.append(self._read_exactly(size))
            if self._read_exactly(2) != b"\r\n":
                raise WireError("a chunk does not end with CRLF")

    def _read_to_end(self) -> bytes:
        assert self.sock is not None
        parts = [self._buffer]
        total = len(self._buffer)
        self._buffer = b""
        while data := self.sock.recv(_READ):
            total += len(data)
            if total > MAX_BODY:
                raise WireError(f"the answer's body is over {MAX_BODY} bytes")
            parts.append(data)
        return b"".join(parts)


def _status(line: bytes) -> tuple[bytes, int, str]:
    version, _, rest = line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise WireError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return version, int(code), reason.decode("latin-1")


def _length(value: bytes) -> int:
    if not value.isdigit():
        raise WireError(f"malformed Content-Length {value[:20]!r}")
    size = int(value)
    if size > MAX_BODY:
        raise WireError(f"the answer's body is over {MAX_BODY} bytes")
    return size
