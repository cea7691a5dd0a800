"""Workers listen on their own SO_REUSEPORT sockets, and the kernel deals connections out."""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Iterator

import pytest

from earmark.server import bind_socket, worker_socket

CONNECTIONS = 200
WAIT_S = 5.0

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT (Linux) is not available"
)


def _listening(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))


@pytest.fixture
def address() -> Iterator[socket.socket]:
    sock = bind_socket("127.0.0.1", 0)
    yield sock
    sock.close()


def test_bind_socket_holds_the_address_without_listening(address: socket.socket) -> None:
    host, port = address.getsockname()
    assert (host, address.family) == ("127.0.0.1", socket.AF_INET)
    assert port != 0
    assert not _listening(address)
    assert address.get_inheritable()
    # Nobody accepts there yet...
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=WAIT_S).close()
    # ...but the address is taken for anyone not joining the SO_REUSEPORT group.
    with socket.socket() as other:
        with pytest.raises(OSError, match="in use") as taken:
            other.bind((host, port))
        assert taken.value.errno == errno.EADDRINUSE


def test_each_worker_gets_its_own_socket_listening_only_once_started(
    address: socket.socket,
) -> None:
    first, second = worker_socket(address), worker_socket(address)
    try:
        assert first is not second
        assert first.fileno() != second.fileno()
        assert first is not address
        assert second is not address
        assert first.getsockname() == second.getsockname() == address.getsockname()
        # Not before the server has started the app: no connection waits on a starting worker.
        assert not _listening(first)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address.getsockname(), timeout=WAIT_S).close()
        first.listen()
        second.listen()
        assert _listening(first)
        assert _listening(second)
        assert not _listening(address)
    finally:
        first.close()
        second.close()


def test_connections_are_dealt_out_over_the_workers(address: socket.socket) -> None:
    workers = [worker_socket(address), worker_socket(address)]
    clients: list[socket.socket] = []
    accepted = [0, 0]
    try:
        for sock in workers:
            sock.listen()  # as the server does once its app started
            sock.setblocking(False)
        for _ in range(CONNECTIONS):
            clients.append(socket.create_connection(address.getsockname(), timeout=WAIT_S))
        deadline = time.monotonic() + WAIT_S
        while sum(accepted) < CONNECTIONS and time.monotonic() < deadline:
            readable, _, _ = select.select(workers, [], [], 0.1)
            for sock in readable:
                conn, _ = sock.accept()
                conn.close()
                accepted[workers.index(sock)] += 1
    finally:
        for client in clients:
            client.close()
        for sock in workers:
            sock.close()
    assert sum(accepted) == CONNECTIONS
    # The kernel hashes each connection to one socket: both get a fair share.
    assert min(accepted) >= CONNECTIONS // 5, accepted


def test_a_listening_shared_socket_is_used_as_it_is() -> None:
    with socket.create_server(("127.0.0.1", 0)) as shared:
        assert worker_socket(shared) is shared
