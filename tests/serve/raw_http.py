"""Raw-socket HTTP for the tests of the HTTP front: what a hostile or broken client sends,
and what comes back, byte for byte."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = 30.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_answer(sock: socket.socket) -> tuple[Answer, bytes]:
    """One answer (Content-Length framed) and what followed it in the stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer; got {data[:200]!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside a body"
        rest += chunk
    return Answer(status, headers, rest[:length]), rest[length:]


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (EOF or reset) before the socket's timeout;
    anything it still sends is read and dropped."""
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def answer_then_close(sock: socket.socket) -> Answer:
    """The one answer the server gives before it closes the connection."""
    answer, rest = read_answer(sock)
    assert rest == b""
    assert closed_by_server(sock), "the connection stayed open after the answer"
    return answer


def stream_header(port: int, total: int, chunk: int = 64 * 1024) -> tuple[int, Answer | None]:
    """Send a request whose one header grows to ``total`` bytes; how many bytes the server
    took before it stopped the connection, and its answer (None when it sent none)."""
    sock = connect(port)
    sent = 0
    try:
        sock.sendall(b"GET /v2/lookup HTTP/1.1\r\nHost: x\r\nX-Big: ")
        piece = b"a" * chunk
        sock.settimeout(5)
        while sent < total:
            try:
                sent += sock.send(piece)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
        sock.settimeout(30)
        try:
            answer, _ = read_answer(sock)
        except (ConnectionResetError, AssertionError):
            return sent, None
        return sent, answer
    finally:
        sock.close()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def wait_closed_count(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)
