"""earmark.index.wire: answers as real servers write them (split reads, chunks, HTTP/1.0), and
answers a client must refuse (oversized heads and bodies, malformed framing)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from earmark.index import wire
from earmark.index.wire import Connection, WireError


def _serve(pieces: list[bytes], *, close: bool = True) -> Iterator[int]:
    """A server answering one request with ``pieces``, each sent separately."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        requests: list[bytes] = []

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                requests.append(conn.recv(65536))
                for piece in pieces:
                    conn.sendall(piece)
                if not close:
                    conn.recv(1)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(5)


def _ask(pieces: list[bytes], method: str = "POST", body: bytes | None = b"x") -> wire.Reply:
    for port in _serve(pieces):
        conn = Connection("127.0.0.1", port, timeout=5)
        try:
            return conn.request(method, "/i/_search", body, {"Accept": "a"})
        finally:
            conn.close()
    raise AssertionError("unreachable")


def test_a_content_length_body_split_over_many_reads() -> None:
    reply = _ask([b"HTTP/1.1 200 OK\r\nContent-", b"Length: 10\r\n\r\n01234", b"56789"])
    assert (reply.status, reply.reason, reply.body, reply.will_close) == (
        200,
        "OK",
        b"0123456789",
        False,
    )


def test_a_chunked_body_with_extensions_and_trailers() -> None:
    chunks = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"4;x=y\r\nabcd\r\n"]
    chunks += [b"3\r\nefg\r\n0\r\nTrailer: 1\r\n\r\n"]
    assert _ask(chunks).body == b"abcdefg"


def test_http_1_0_and_connection_close_are_not_kept() -> None:
    assert _ask([b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"]).will_close
    assert _ask([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]).will_close


def test_a_body_without_length_is_read_to_the_close() -> None:
    reply = _ask([b"HTTP/1.1 500 Oops\r\n\r\nall ", b"of it"])
    assert (reply.status, reply.reason, reply.body, reply.will_close) == (
        500,
        "Oops",
        b"all of it",
        True,
    )


def test_head_and_204_answers_have_no_body() -> None:
    assert _ask([b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"], "HEAD", None).body == b""
    assert _ask([b"HTTP/1.1 204 No Content\r\n\r\n"]).body == b""


@pytest.mark.parametrize(
    "pieces",
    [
        [b"SSH-2.0-OpenSSH\r\n\r\n"],
        [b"HTTP/1.1 2000 OK\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
        [b"HTTP/1.1 200 OK\r\n"],
        [b""],
    ],
)
def test_malformed_or_cut_answers_are_wire_errors(pieces: list[bytes]) -> None:
    with pytest.raises(WireError):
        _ask(pieces)


def test_oversized_heads_and_bodies_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_HEAD", 100)
    monkeypatch.setattr(wire, "MAX_BODY", 10)
    with pytest.raises(WireError, match="head"):
        _ask([b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 300 + b"\r\n\r\n"])
    with pytest.raises(WireError, match="body"):
        _ask([b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"])
    with pytest.raises(WireError, match="body"):
        _ask([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"b\r\n" + b"z" * 11])


def test_the_request_carries_host_length_and_headers() -> None:
    seen: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                seen.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        conn = Connection("127.0.0.1", port, timeout=5)
        conn.request("PUT", "/main/7", b"\x81\xa1h\x90", {"Content-Type": "application/x"})
        conn.close()
        thread.join(5)
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /main/7 HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert b"Content-Length: 4" in lines
    assert b"Content-Type: application/x" in lines
    assert body == b"\x81\xa1h\x90"


def test_interim_answers_are_skipped_for_the_final_one() -> None:
    pieces = [b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"]
    pieces += [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    reply = _ask(pieces)
    assert (reply.status, reply.body) == (200, b"ok")


def test_a_connection_header_listing_close_is_not_kept() -> None:
    reply = _ask([b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"])
    assert reply.will_close


def test_bytes_beyond_the_answer_make_the_connection_unusable() -> None:
    for port in _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"], close=False):
        conn = Connection("127.0.0.1", port, timeout=5)
        assert conn.request("GET", "/", None, {}).body == b"ok"
        assert conn.pending
        conn.close()
