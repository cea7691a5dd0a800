"""The coalescing HTTP protocol: one write per event-loop turn, and every kind of answer intact
through a real uvicorn on a real socket (keep-alive, Connection: close, HEAD, streamed, large)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from earmark.http_protocol import CoalescingTransport
from tests.support import uvicorn_in_thread

BIG = b"x" * (5 * 1024 * 1024)


class RecordingTransport(asyncio.Transport):
    """Stands in for the socket: records what reaches it, call by call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1234)}.get(name, default)


async def _turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_writes_of_one_turn_leave_together() -> None:
    asyncio.run(_test_writes_of_one_turn_leave_together())


async def _test_writes_of_one_turn_leave_together() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.writelines([b"bo", memoryview(b"dy")])
    assert real.writes == []
    assert transport.get_write_buffer_size() == 7 + 23
    await _turn()
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await _turn()
    assert real.writes[1:] == [b"next"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1234)  # the rest is the real one


def test_close_sends_the_answer_first_and_abort_drops_it() -> None:
    asyncio.run(_test_close_sends_the_answer_first_and_abort_drops_it())


async def _test_close_sends_the_answer_first_and_abort_drops_it() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"answer")
    transport.close()
    assert real.events == ["write", "close"]
    assert real.writes == [b"answer"]
    await _turn()  # the scheduled flush finds nothing left
    assert real.writes == [b"answer"]

    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"never")
    transport.abort()
    await _turn()
    assert real.events == ["abort"]


def test_nothing_is_written_to_a_transport_closed_meanwhile() -> None:
    asyncio.run(_test_nothing_is_written_to_a_transport_closed_meanwhile())


async def _test_nothing_is_written_to_a_transport_closed_meanwhile() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"late")
    real.closing = True  # the peer went away during the turn
    await _turn()
    assert real.writes == []


async def _stream() -> AsyncIterator[bytes]:
    for part in (b"one,", b"two,", b"three"):
        yield part
        await asyncio.sleep(0.01)


async def _small(request: Request) -> Response:
    return PlainTextResponse("small answer")


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _streamed(request: Request) -> Response:
    return StreamingResponse(_stream(), media_type="text/plain")


async def _empty(request: Request) -> Response:
    return Response(status_code=204)


APP = Starlette(
    routes=[
        Route("/small", _small, methods=["GET", "HEAD"]),
        Route("/big", _big),
        Route("/streamed", _streamed),
        Route("/empty", _empty),
    ]
)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with uvicorn_in_thread(APP) as bound:
        yield bound


class Reader:
    """Reads answers off a socket, keeping what follows one answer for the next."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _more(self, what: str) -> None:
        chunk = self.sock.recv(1 << 20)
        assert chunk, f"connection closed inside the {what}"
        self.buffer += chunk

    def answer(self, *, head_only: bool = False) -> tuple[bytes, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._more("head")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next(
            (int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length:")), None
        )
        if head_only or head.startswith(b"HTTP/1.1 204"):
            return head, b""
        if length is not None:
            while len(self.buffer) < length:
                self._more("body")
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return head, body
        assert b"transfer-encoding: chunked" in lines
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._more("chunk size")
            size_line, _, self.buffer = self.buffer.partition(b"\r\n")
            size = int(size_line, 16)
            while len(self.buffer) < size + 2:
                self._more("chunk")
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return head, body


def _request(path: str, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def test_keep_alive_answers_of_every_shape(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = Reader(sock)
        for path, method, expected in [
            ("/small", "GET", b"small answer"),
            ("/big", "GET", BIG),
            ("/streamed", "GET", b"one,two,three"),
            ("/empty", "GET", b""),
            ("/small", "HEAD", b""),
            ("/small", "GET", b"small answer"),
        ]:
            sock.sendall(_request(path, method))
            head, body = reader.answer(head_only=method == "HEAD")
            assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 204")), head
            assert body == expected, path


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("/small") + _request("/streamed") + _request("/small"))
        reader = Reader(sock)
        bodies = [reader.answer()[1] for _ in range(3)]
    assert bodies == [b"small answer", b"one,two,three", b"small answer"]


def test_connection_close_gets_the_whole_answer_before_the_end(port: int) -> None:
    for path, expected in [("/small", b"small answer"), ("/big", BIG)]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(_request(path, extra="Connection: close\r\n"))
            data = b""
            while chunk := sock.recv(1 << 20):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert body == expected


def test_a_malformed_request_still_gets_its_400(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400")
