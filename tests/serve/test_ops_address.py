"""`ops_address`: /metrics and the health checks on a listener of their own, and then not on
the public one. A real `earmark serve`."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.serve.process import (
    URL_LINE,
    Process,
    clean_environment,
    earmark_command,
    wait_until,
)
from tests.serve.raw_http import free_port

OPS_PATHS = ("/metrics", "/_health", "/_health_ro", "/_health_docker")


def test_metrics_and_health_move_to_the_ops_address(tmp_path: Path) -> None:
    ops_port = free_port()
    ops = f"http://127.0.0.1:{ops_port}"
    env = clean_environment(EARMARK_OPS_ADDRESS=f"127.0.0.1:{ops_port}")
    argv = [*earmark_command(), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")]
    proc = Process(argv, env, name="earmark serve")
    try:
        public = proc.wait_for_output(URL_LINE, 120).group(1)
        wait_until(lambda: httpx.get(ops + "/_health", timeout=2).status_code == 200, 60, "ops")
        for path in OPS_PATHS:
            answer = httpx.get(ops + path, timeout=10)
            assert answer.status_code == 200, path
            hidden = httpx.get(public + path, timeout=10)
            assert hidden.status_code == 404, path
            assert hidden.json()["error"]["code"] == 21
        assert "earmark_importer_queue_depth" in httpx.get(ops + "/metrics", timeout=10).text
        # The API stays on the public address only.
        assert httpx.get(public + "/v2/lookup", timeout=10).json()["status"] == "error"
        assert httpx.get(ops + "/v2/lookup", timeout=10).status_code == 404
    finally:
        assert proc.stop() == 0, proc.describe()


def test_a_malformed_ops_address_is_refused(tmp_path: Path) -> None:
    env = clean_environment(EARMARK_OPS_ADDRESS="localhost")
    argv = [*earmark_command(), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")]
    proc = Process(argv, env, name="earmark serve")
    code = proc.wait(120)
    assert code != 0
    assert "ops_address must be host:port" in proc.stderr
