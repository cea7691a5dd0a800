"""`earmark run index` through the real console script, with the data_dir setting."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.cli.run import ROLES
from earmark.index.engine import MultiIndex
from tests.index.process import free_port


def test_run_index_serves_under_the_data_dir_setting(tmp_path: Path) -> None:
    earmark = Path(sys.executable).with_name("earmark")
    if not earmark.exists():
        pytest.skip("the earmark script is not installed next to this Python")
    port = free_port()
    env = {**os.environ, "EARMARK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [str(earmark), "run", "index", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(url + "/_health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "index server did not become healthy"
            time.sleep(0.05)
        assert httpx.put(url + "/main", timeout=5).status_code == 200
        update = {"changes": [{"insert": {"id": 7, "hashes": [1, 2, 3, 4]}}]}
        assert httpx.post(url + "/main/_update", json=update, timeout=5).status_code == 200
        found = httpx.post(url + "/main/_search", json={"query": [1, 2, 3]}, timeout=5).json()
        assert found["results"] == [{"id": 7, "score": 3}]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        if proc.stderr is not None:
            proc.stderr.close()
    assert (tmp_path / "data" / "index").is_dir()


def test_run_index_logs_where_it_listens_and_when_it_stops(tmp_path: Path) -> None:
    earmark = Path(sys.executable).with_name("earmark")
    if not earmark.exists():
        pytest.skip("the earmark script is not installed next to this Python")
    data = tmp_path / "idx"
    engine = MultiIndex(data)
    for name in ("main", "other"):
        engine.create(name)
    engine.close()
    # --port 0: the start line must give the port the kernel chose, not the one asked for.
    proc = subprocess.Popen(
        [str(earmark), "run", "index", "--dir", str(data), "--port", "0"],
        env={**os.environ, "EARMARK_LOG_LEVEL": "INFO"},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        started = proc.stderr.readline()
        match = re.search(r"index server listening on http://127\.0\.0\.1:(\d+); (.*)$", started)
        assert match, started
        assert match[2] == f"data dir {data.resolve()}; 2 indexes (main, other)"
        url = f"http://127.0.0.1:{match[1]}"
        assert httpx.get(url + "/_health", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    rest = proc.stderr.read()
    proc.stderr.close()
    assert f"index server stopped; data dir {data.resolve()} closed" in rest
    assert "Traceback" not in rest


def test_run_help_names_every_role() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    assert "arrives" not in result.stdout
    assert "Run one production role: api, web, catalog, importer, cron or index." in result.stdout
    rows = result.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [row.split()[0] for row in rows] == sorted(ROLES)
