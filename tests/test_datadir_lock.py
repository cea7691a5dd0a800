"""The data-directory lock and the listening-address check, in this process (the end-to-end
behaviour with real servers is in tests/serve/test_start_checks.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from earmark.datadir_lock import LOCK_FILE, DataDirLockError, claim_data_dir, lock_data_dir
from earmark.listen import ListenError, bind_address, check_address


def test_a_held_directory_names_its_holder_and_is_free_once_released(tmp_path: Path) -> None:
    first = lock_data_dir(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    with pytest.raises(DataDirLockError, match=rf"{tmp_path} is in use by process {os.getpid()} "):
        lock_data_dir(tmp_path)
    first.release()
    first.release()  # twice is harmless
    with lock_data_dir(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("999999999\n")  # nobody holds a flock on it
    with lock_data_dir(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


@pytest.mark.parametrize("content", ["", "not a pid", "\x00\xff" * 40])
def test_a_holder_without_a_readable_pid_is_another_process(tmp_path: Path, content: str) -> None:
    with lock_data_dir(tmp_path):
        (tmp_path / LOCK_FILE).write_text(content, encoding="latin-1")
        with pytest.raises(DataDirLockError, match="is in use by another process"):
            lock_data_dir(tmp_path)


def test_create_makes_a_private_directory_and_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    with pytest.raises(DataDirLockError, match="cannot lock the data directory"):
        lock_data_dir(target)
    assert not target.exists()
    with lock_data_dir(target, create=True):
        assert target.stat().st_mode & 0o077 == 0
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(DataDirLockError, match="exists and is not a directory"):
        lock_data_dir(afile, create=True)


def test_claim_creates_nothing_when_the_check_fails(tmp_path: Path) -> None:
    target = tmp_path / "new"

    def refuse() -> None:
        raise ListenError("cannot listen")

    with pytest.raises(ListenError):
        claim_data_dir(target, refuse)
    assert not target.exists()
    with claim_data_dir(target, lambda: None):
        assert target.is_dir()


def test_claim_locks_an_existing_directory_before_the_check(tmp_path: Path) -> None:
    checked: list[bool] = []
    with lock_data_dir(tmp_path), pytest.raises(DataDirLockError):
        claim_data_dir(tmp_path, lambda: checked.append(True))
    assert checked == [], "the holder is named, whatever the port"

    def refuse() -> None:
        raise ListenError("cannot listen")

    with pytest.raises(ListenError):
        claim_data_dir(tmp_path, refuse)
    with lock_data_dir(tmp_path):  # the failed claim left no lock behind
        pass


def test_an_address_in_use_is_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as caught:
            check_address("127.0.0.1", port)
    assert str(caught.value) == f"cannot listen on 127.0.0.1:{port}: address already in use"
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("host", "shown"),
    [("192.0.2.1", "192.0.2.1:"), ("no-such-host.invalid", "no-such-host.invalid:")],
)
def test_an_address_not_on_this_machine_is_one_line(host: str, shown: str) -> None:
    with pytest.raises(ListenError, match=rf"^cannot listen on {shown}\d+: \S"):
        check_address(host, 8080)


def test_a_bound_address_is_returned_not_listening() -> None:
    sock = bind_address("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
    finally:
        sock.close()
