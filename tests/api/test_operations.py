"""Health checks (reference §5.9) and the Prometheus metrics (§14) through the real app."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.api.metrics import ApiMetrics, QueueCollector
from earmark.api.operations import DATABASE_UNAVAILABLE, DatabaseProbe
from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db.engine import Databases
from earmark.db.tables import pending_submission
from earmark.importer.table_queue import TableQueue
from earmark.importer.worker import Worker
from tests.api.harness import ApiHarness
from tests.importer.harness import fixture_items
from tests.support import statements_run

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"
HEALTH = ("/_health", "/_health_ro", "/_health_docker")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def broken_databases(kind: str, tmp_path: Path) -> Databases:
    if kind == "postgresql":
        return Databases.single(f"postgresql://nobody:pw@127.0.0.1:{closed_port()}/earmark")
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "not-a-file.db").mkdir()
    return Databases.single(f"sqlite:///{tmp_path / 'not-a-file.db'}")


def metrics_lines(api: ApiHarness) -> dict[str, float]:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


# --- health ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", HEALTH)
def test_health_ok(api: ApiHarness, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 200
    assert response.text == "ok"
    assert response.headers["content-type"].startswith("text/plain")
    head = api.client.head(path)
    assert head.status_code == 200
    assert head.content == b""


def test_health_during_shutdown(api: ApiHarness) -> None:
    api.services.health.begin_shutdown()
    for path in HEALTH:
        response = api.client.get(path)
        assert (response.status_code, response.text) == (503, "shutdown in process")
        assert api.client.head(path).status_code == 503


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_health_with_a_broken_database(
    api: ApiHarness, kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_databases(kind, tmp_path)
    working = api.services.dbs
    api.services.dbs = broken
    try:
        for path in ("/_health", "/_health_ro"):
            response = api.client.get(path)
            assert (response.status_code, response.text) == (503, DATABASE_UNAVAILABLE)
        # Liveness does not depend on the database: restarting would not bring it back.
        assert api.client.get("/_health_docker").status_code == 200
    finally:
        api.services.dbs = working
        broken.dispose()
    assert api.client.get("/_health").status_code == 200
    # The reason is logged, without the exception's text (it may carry the URL).
    logged = " ".join(r.getMessage() for r in caplog.records if "health" in r.getMessage())
    assert "database probe failed" in logged
    assert "nobody" not in logged
    assert "127.0.0.1" not in logged


class SilentServer:
    """Accepts TCP connections and never answers (a hung database); counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.sock.close()


def test_probe_times_out_and_is_shared() -> None:
    server = SilentServer()
    dbs = Databases.single(f"postgresql://nobody@127.0.0.1:{server.port}/earmark")
    probe = DatabaseProbe(timeout=0.3)

    async def main() -> list[str | None]:
        checks = asyncio.gather(*(probe.check(dbs, write=False) for _ in range(5)))
        # The server never answers: only the probe's timeout ends the checks (60 s is the
        # failure bound, so that a probe without one fails instead of hanging).
        return list(await asyncio.wait_for(checks, 60))

    try:
        assert asyncio.run(main()) == [DATABASE_UNAVAILABLE] * 5
        assert len(server.connections) == 1  # five health requests, one probe
    finally:
        server.close()
        dbs.dispose()


# --- metrics --------------------------------------------------------------------------------


def test_metrics_after_requests(api: ApiHarness) -> None:
    for _ in range(2):
        assert api.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code == 200
    assert api.call("/v2/track/list_by_mbid", {}).status_code == 400
    found = metrics_lines(api)
    assert found['earmark_api_requests_total{endpoint="list_by_mbid",status="200"}'] == 2
    assert found['earmark_api_requests_total{endpoint="list_by_mbid",status="400"}'] == 1
    key = 'earmark_api_errors_total{endpoint="list_by_mbid",error="missing_parameter"}'
    assert found[key] == 1
    assert found['earmark_api_request_duration_seconds_count{endpoint="list_by_mbid"}'] == 3
    assert (
        found['earmark_api_request_duration_seconds_bucket{endpoint="list_by_mbid",le="+Inf"}'] == 3
    )
    assert found["earmark_api_rate_limit_unchecked_total"] == 0


def test_lookup_hits_and_misses(api: ApiHarness, acoustid_fixtures: Any) -> None:
    items, length = fixture_items(acoustid_fixtures, "1A")
    api.add_track(items, length)
    for name in ("1B", "2"):
        query, qlength = fixture_items(acoustid_fixtures, name)
        params = {
            "client": api.client_key,
            "duration": str(qlength),
            "fingerprint": encode_fingerprint_base64(query),
        }
        assert api.json("/v2/lookup", params)["status"] == "ok"
    found = metrics_lines(api)
    assert found['earmark_api_lookups_total{result="hit"}'] == 1
    assert found['earmark_api_lookups_total{result="miss"}'] == 1


def test_queue_depth_and_lag(api: ApiHarness, acoustid_fixtures: Any) -> None:
    api.services.metrics.add_queue_collector(api.dbs)
    found = metrics_lines(api)
    assert found["earmark_importer_queue_up"] == 1
    assert found["earmark_importer_queue_depth"] == 0
    assert found["earmark_importer_queue_lag_seconds"] == 0
    items, length = fixture_items(acoustid_fixtures, "1A")
    ids = [api.submit(items, length, meta={"track": f"t{i}"}) for i in range(3)]
    found = metrics_lines(api)
    assert found["earmark_importer_queue_depth"] == 3
    assert 0 <= found["earmark_importer_queue_lag_seconds"] < 60
    # The oldest waits since 100 s ago (by the database clock, stored as UTC).
    with api.dbs.write() as conns:
        conns.ingest.execute(
            sa.update(pending_submission)
            .where(pending_submission.c.id == ids[0])
            .values(created=datetime.now(UTC) - timedelta(seconds=100))
        )
    lag = metrics_lines(api)["earmark_importer_queue_lag_seconds"]
    assert 99 <= lag < 130
    api.import_pending()
    found = metrics_lines(api)
    assert found["earmark_importer_queue_depth"] == 0
    assert found["earmark_importer_queue_lag_seconds"] == 0


def test_queue_collector_with_the_database_down(api: ApiHarness, tmp_path: Path) -> None:
    broken = broken_databases("postgresql", tmp_path)
    try:
        api.services.metrics.add_queue_collector(broken)
        found = metrics_lines(api)
    finally:
        broken.dispose()
    assert found["earmark_importer_queue_up"] == 0
    assert "earmark_importer_queue_depth" not in found
    # The rest of the exposition is unaffected.
    assert found["earmark_api_rate_limit_unchecked_total"] == 0


def test_importer_collector(api: ApiHarness, acoustid_fixtures: Any) -> None:
    worker = Worker(api.dbs, api.searcher, TableQueue(api.dbs))
    api.services.metrics.add_importer_collector(worker)
    assert metrics_lines(api)['earmark_importer_outcomes_total{outcome="imported"}'] == 0
    items, length = fixture_items(acoustid_fixtures, "1A")
    other, other_length = fixture_items(acoustid_fixtures, "2")
    api.submit(items, length, meta={"track": "a"})
    api.submit(other, other_length, meta={"track": "b"})
    api.submit(items, length)  # nothing to link: skipped

    async def run() -> int:
        return await worker.run_once()

    assert asyncio.run(run()) == 3
    found = metrics_lines(api)
    assert found['earmark_importer_outcomes_total{outcome="imported"}'] == 2
    assert found['earmark_importer_outcomes_total{outcome="skipped"}'] == 1
    assert found["earmark_importer_new_tracks_total"] == 2
    assert found["earmark_importer_batches_total"] == worker.stats.batches


# --- several processes ----------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from earmark.api.metrics import ApiMetrics

    metrics = ApiMetrics()
    n = int(sys.argv[1])
    for _ in range(n):
        metrics.observe("lookup", 200, 0.01)
    metrics.error("lookup", "invalid_fingerprint")
    metrics.lookup(hits=n, misses=1)
    """
)

PARENT = textwrap.dedent(
    """
    import subprocess, sys
    from earmark.api.metrics import ApiMetrics, prepare_multiprocess

    directory = prepare_multiprocess(sys.argv[1])
    workers = [
        subprocess.Popen([sys.executable, "-c", sys.argv[2], str(n)]) for n in (3, 4)
    ]
    assert [w.wait() for w in workers] == [0, 0]
    metrics = ApiMetrics()
    metrics.observe("lookup", 200, 0.5)  # this process writes there too once prepared
    sys.stdout.write(metrics.render().decode())
    """
)


@pytest.mark.slow
def test_two_processes_share_one_directory(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"stale junk of a previous run")
    result = subprocess.run(
        [sys.executable, "-c", PARENT, str(directory), WORKER],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, float] = {}
    for line in result.stdout.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    assert found['earmark_api_requests_total{endpoint="lookup",status="200"}'] == 3 + 4 + 1
    assert found['earmark_api_request_duration_seconds_count{endpoint="lookup"}'] == 8
    assert found['earmark_api_request_duration_seconds_sum{endpoint="lookup"}'] == pytest.approx(
        0.57
    )
    assert found['earmark_api_errors_total{endpoint="lookup",error="invalid_fingerprint"}'] == 2
    assert found['earmark_api_lookups_total{result="hit"}'] == 7
    assert found['earmark_api_lookups_total{result="miss"}'] == 2
    assert not (directory / "counter_1.db").exists()


def test_a_separate_registry_reads_a_multiprocess_directory(tmp_path: Path) -> None:
    """Without the directory, an ApiMetrics exposes only its own registry."""
    own = ApiMetrics()
    own.observe("lookup", 200, 0.1)
    assert b'earmark_api_requests_total{endpoint="lookup",status="200"} 1.0' in own.render()
    empty = ApiMetrics(multiprocess_dir=str(tmp_path))
    assert b"earmark_api_requests_total{" not in empty.render()


def _backlog_reads(statement: str) -> bool:
    return "pending_submission" in statement and "count(" in statement.lower()


def test_scrapes_within_the_cache_period_query_the_database_once(api: ApiHarness) -> None:
    api.services.metrics.add_queue_collector(api.dbs, cache_ttl=3600)
    with statements_run(api.dbs.ingest, _backlog_reads) as seen:
        scrapes = [metrics_lines(api) for _ in range(5)]
    assert len(seen) == 1
    assert all(found["earmark_importer_queue_up"] == 1 for found in scrapes)
    assert all(found["earmark_importer_queue_depth"] == 0 for found in scrapes)


def test_the_queue_is_read_again_once_the_cache_period_is_over(api: ApiHarness) -> None:
    now = [1000.0]
    collector = QueueCollector(api.dbs, cache_ttl=5.0, clock=lambda: now[0])
    with statements_run(api.dbs.ingest, _backlog_reads) as seen:
        for at in (1000.0, 1001.0, 1004.9, 1005.0, 1009.0, 1010.5):
            now[0] = at
            names = [family.name for family in collector.collect()]
            assert "earmark_importer_queue_depth" in names
    # Read at 1000 (kept until 1005), at 1005 (until 1010) and at 1010.5.
    assert len(seen) == 3


def test_without_a_cache_period_every_scrape_reads(api: ApiHarness) -> None:
    api.services.metrics.add_queue_collector(api.dbs, cache_ttl=0)
    with statements_run(api.dbs.ingest, _backlog_reads) as seen:
        for _ in range(3):
            metrics_lines(api)
    assert len(seen) == 3
