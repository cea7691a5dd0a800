"""The server as a process: startup, SIGTERM, kill -9, the legacy TCP listener."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.index.client import HttpIndexClient
from earmark.index.engine import CorruptFileError, MultiIndex

from .conftest import MANUAL
from .process import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", legacy=True)
    proc.start()
    yield proc
    proc.kill()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_persistence_after_restart(server: ServerProcess, how: str) -> None:
    client = HttpIndexClient(server.url)
    client.create_index("t")
    for _ in range(100):
        client.insert("t", 1, [1, 2, 3])
    client.close()
    if how == "sigterm":
        assert server.terminate() == 0
    else:
        server.kill()
    server.start()
    client = HttpIndexClient(server.url)
    assert [(r.id, r.score) for r in client.search("t", [1, 2, 3])] == [(1, 3)]
    assert client.get_document("t", 1) == 100
    client.close()


def test_corrupt_segment_stops_startup_naming_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = MultiIndex(data, MANUAL)
    engine.create("t")
    engine.get("t").update([])
    engine.get("t").flush()
    engine.close()
    (seg,) = data.glob("t/v*/segments/*.seg")
    seg.write_bytes(seg.read_bytes()[:-1] + b"X")
    proc = ServerProcess(data)
    with pytest.raises(RuntimeError) as info:
        proc.start()
    assert seg.name in str(info.value)
    with pytest.raises(CorruptFileError):
        MultiIndex(data, MANUAL)


def legacy(sock_file, line: str) -> str:
    sock_file.write(line.encode() + b"\n")
    sock_file.flush()
    return sock_file.readline().decode().rstrip("\r\n")


def test_legacy_protocol(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.legacy_port), timeout=10) as s:
        f = s.makefile("rwb")
        assert legacy(f, "echo hello world") == "OK hello world"
        assert legacy(f, "") == "OK "
        assert legacy(f, "frobnicate").startswith("ERR ")
        assert legacy(f, "search notanumber").startswith("ERR ")
        assert legacy(f, "insert 1 1,2,3") == "ERR not in transaction"
        assert legacy(f, "begin") == "OK "
        assert legacy(f, "begin") == "ERR already in transaction"
        assert legacy(f, "insert 1001 1,2,3") == "OK "
        assert legacy(f, "insert 1002 2,3,4") == "OK "
        assert legacy(f, "search 1,2,3") == "OK "  # not committed yet
        assert legacy(f, "commit") == "OK "
        assert legacy(f, "search 1,2,3") == "OK 1001:3 1002:2"
        assert legacy(f, "search 2,3,4") == "OK 1002:3 1001:2"
        assert legacy(f, "search -1,4") == "OK 1002:1"
        assert legacy(f, "begin") == "OK "
        assert legacy(f, "insert 1003 7,8,9") == "OK "
        assert legacy(f, "rollback") == "OK "
        assert legacy(f, "search 7,8,9") == "OK "
        assert legacy(f, "set max_results 1") == "OK "
        assert legacy(f, "get max_results") == "OK 1"
        assert legacy(f, "search 2,3") == "OK 1001:2"
        assert legacy(f, "get attribute foo") == "OK "
        assert legacy(f, "set attribute foo 123") == "ERR not in transaction"
        assert legacy(f, "begin") == "OK "
        assert legacy(f, "set attribute foo 123") == "OK "
        assert legacy(f, "commit") == "OK "
        assert legacy(f, "get foo") == "OK 123"
    # the legacy index is the HTTP index `main`
    client = HttpIndexClient(server.url)
    assert client.get_index("main").metadata == {"foo": "123"}
    client.close()
