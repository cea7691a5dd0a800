"""`earmark run index` through the real console script, with the data_dir setting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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
