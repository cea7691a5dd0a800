"""What a server checks before it creates anything: its address and its data directory.

Real processes: a second ``earmark serve`` (or ``run index``, ``run importer`` on the embedded
index) on a data directory in use exits 1 naming the first one's PID; once the first is killed
with SIGKILL a new one starts. A port in use is one ``earmark: error:`` line, exit 1, and no data
directory.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from earmark.datadir_lock import LOCK_FILE
from tests.serve.process import (
    Serve,
    clean_environment,
    free_port,
    run_earmark,
    taken_port,
)

__all__ = ["taken_port"]  # a fixture


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The only line on stderr, which must be Earmark's error line; exit status 1."""
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("earmark: error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_a_data_directory_in_use_names_its_process_until_that_one_is_killed(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = clean_environment(EARMARK_SHUTDOWN_DELAY="0")
    first = Serve(data_dir, env)
    try:
        pid = first.proc.pid
        in_use = f"earmark: error: the data directory {data_dir} is in use by process {pid} "
        second = run_earmark(["serve", "--port", "0", "--data-dir", str(data_dir)], env)
        assert _one_error_line(second).startswith(in_use)

        index_in_use = in_use.replace(str(data_dir), str(data_dir / "index"))
        index = run_earmark(
            ["run", "index", "--dir", str(data_dir / "index"), "--port", str(free_port())], env
        )
        assert _one_error_line(index).startswith(index_in_use)
        importer_env = {**env, "EARMARK_DATA_DIR": str(data_dir)}
        importer = run_earmark(["run", "importer", "--once"], importer_env)
        assert _one_error_line(importer).startswith(index_in_use)

        first.send(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        assert (data_dir / LOCK_FILE).read_text() == f"{pid}\n", "a stale lock file stays"
        third = Serve(data_dir, env)
        try:
            assert "Initialised" not in third.stdout
            assert (data_dir / LOCK_FILE).read_text() == f"{third.proc.pid}\n"
        finally:
            assert third.stop() == 0, third.describe()
    finally:
        first.stop()


def test_serve_on_a_port_in_use_creates_nothing(tmp_path: Path, taken_port: int) -> None:
    data_dir = tmp_path / "new"
    result = run_earmark(
        ["serve", "--port", str(taken_port), "--data-dir", str(data_dir)], clean_environment()
    )
    line = _one_error_line(result)
    assert (
        line == f"earmark: error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
    assert result.stdout == ""
    assert not data_dir.exists(), "no data directory, no administrator account"


def test_serve_port_from_the_environment_is_checked_too(tmp_path: Path, taken_port: int) -> None:
    data_dir = tmp_path / "new"
    env = clean_environment(EARMARK_API_PORT=str(taken_port), EARMARK_DATA_DIR=str(data_dir))
    line = _one_error_line(run_earmark(["serve"], env))
    assert line.endswith(f"127.0.0.1:{taken_port}: address already in use")
    assert not data_dir.exists()
    env["EARMARK_API_PORT"] = "99999"
    refused = run_earmark(["serve"], env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "earmark: error: EARMARK_API_PORT: 99999 is above the maximum 65535"
    )


def test_run_index_on_a_port_in_use_creates_nothing(tmp_path: Path, taken_port: int) -> None:
    index_dir = tmp_path / "index"
    result = run_earmark(
        ["run", "index", "--dir", str(index_dir), "--port", str(taken_port)], clean_environment()
    )
    assert _one_error_line(result) == (
        f"earmark: error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
    result = run_earmark(
        ["run", "index", "--dir", str(index_dir), "--port", "65536"], clean_environment()
    )
    assert result.returncode == 2
    assert "65536 is not in the range 0<=x<=65535" in result.stderr
    legacy = run_earmark(
        [
            "run",
            "index",
            "--dir",
            str(index_dir),
            "--port",
            str(free_port()),
            "--legacy-port",
            str(taken_port),
        ],
        clean_environment(),
    )
    assert _one_error_line(legacy).endswith(f"127.0.0.1:{taken_port}: address already in use")
    assert not index_dir.exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_api_on_a_port_in_use_is_one_line(
    tmp_path: Path, taken_port: int, workers: str
) -> None:
    env = clean_environment(
        EARMARK_DATABASE_URL=f"sqlite:///{tmp_path}/earmark.db",
        EARMARK_MUSICBRAINZ_DATABASE_URL=f"sqlite:///{tmp_path}/musicbrainz.db",
        EARMARK_INDEX_URL="http://127.0.0.1:9",
        EARMARK_REDIS_URL="redis://127.0.0.1:9/0",
    )
    upgraded = run_earmark(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    result = run_earmark(["run", "api", "--port", str(taken_port), "--workers", workers], env)
    assert _one_error_line(result) == (
        f"earmark: error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
