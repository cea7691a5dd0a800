"""The catalog in real processes: `earmark run catalog`, and `/catalog` inside `earmark serve`."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.serve.process import (
    Process,
    Serve,
    clean_environment,
    earmark_command,
    free_port,
    run_earmark,
    wait_until,
)


def _load_sample(env: dict[str, str]) -> str:
    """`earmark mb load-sample` with synthetic data (it builds the search index); an ISRC."""
    loaded = run_earmark(["mb", "load-sample", "--synthetic", "40", "--seed", "3"], env)
    assert loaded.returncode == 0, loaded.stderr
    assert "search index built" in loaded.stdout
    path = env["EARMARK_MUSICBRAINZ_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (code,) = conn.execute("SELECT isrc FROM isrc ORDER BY isrc LIMIT 1").fetchone()
    return str(code).strip()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """A sample mirror and a migrated app database, read by each `earmark run catalog` test:
    their environment and an ISRC of the mirror."""
    tmp_path = tmp_path_factory.mktemp("catalog")
    env = clean_environment(
        EARMARK_DATABASE_URL=f"sqlite:///{tmp_path}/earmark.db",
        EARMARK_MUSICBRAINZ_DATABASE_URL=f"sqlite:///{tmp_path}/musicbrainz.db",
    )
    code = _load_sample(env)
    upgraded = run_earmark(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    return env, code


def test_run_catalog_answers(prepared: tuple[dict[str, str], str]) -> None:
    env, code = prepared
    port = free_port()
    catalog = Process(
        [*earmark_command(), "run", "catalog", "--port", str(port)], env, name="run catalog"
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> httpx.Response | None:
            try:
                return httpx.get(url + "/health", timeout=5)
            except httpx.TransportError:
                assert catalog.proc.poll() is None, catalog.describe()
                return None

        health = wait_until(answers, 60, "run catalog answering /health")
        assert health.json()["search_index"] is True
        tracks = httpx.get(f"{url}/lookup/isrc/{code}", timeout=10)
        assert tracks.status_code == 200
        assert tracks.json()
        assert all(code in t["isrcs"] for t in tracks.json())
        # The HTTP front's refusals are the envelope too.
        assert httpx.get(url + "/nothing", timeout=5).json()["error"]["code"] == 21
    finally:
        assert catalog.stop() == 0, catalog.describe()
    assert "Traceback" not in catalog.stderr


def _requests_counted(metrics: str, endpoint: str) -> float:
    """The sum of ``earmark_catalog_requests_total`` of ``endpoint`` over every status."""
    found = re.findall(
        rf'^earmark_catalog_requests_total{{endpoint="{endpoint}",status="\d+"}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return sum(float(value) for value in found)


def test_run_catalog_workers_sum_their_metrics(prepared: tuple[dict[str, str], str]) -> None:
    env, code = prepared
    env = {**env, "EARMARK_CATALOG_ANONYMOUS_RATE": "1000", "EARMARK_SHUTDOWN_DELAY": "0.2"}
    port = free_port()
    catalog = Process(
        [*earmark_command(), "run", "catalog", "--workers", "2", "--port", str(port)],
        env,
        name="run catalog --workers 2",
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> httpx.Response | None:
            try:
                return httpx.get(url + "/health", timeout=5)
            except httpx.TransportError:
                assert catalog.proc.poll() is None, catalog.describe()
                return None

        wait_until(answers, 60, "run catalog --workers 2 answering /health")
        # A new connection each: the kernel spreads them over both workers' sockets.
        asked = 20
        for _ in range(asked):
            assert httpx.get(f"{url}/lookup/isrc/{code}", timeout=10).status_code == 200
        # Whichever worker answers /metrics counts the other's requests too.
        for _ in range(3):
            metrics = httpx.get(url + "/metrics", timeout=10).text
            assert _requests_counted(metrics, "lookup_isrc") == asked
    finally:
        assert catalog.stop() == 0, catalog.describe()
    assert "Traceback" not in catalog.stderr


def test_run_catalog_refuses_a_mirror_without_tables(tmp_path: Path) -> None:
    env = clean_environment(
        EARMARK_DATABASE_URL=f"sqlite:///{tmp_path}/earmark.db",
        EARMARK_MUSICBRAINZ_DATABASE_URL=f"sqlite:///{tmp_path}/musicbrainz.db",
    )
    result = run_earmark(["run", "catalog", "--port", str(free_port())], env)
    assert result.returncode != 0
    assert "earmark mb init" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_answers_the_catalog_under_its_prefix(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_environment()
    code = _load_sample(
        {
            **env,
            "EARMARK_DATA_DIR": str(data_dir),
            "EARMARK_MUSICBRAINZ_DATABASE_URL": f"sqlite:///{data_dir}/musicbrainz.db",
        }
    )
    server = Serve(data_dir, env)
    try:
        answer = httpx.get(
            f"{server.url}/catalog/lookup/isrc/{code}",
            headers={"X-Api-Key": server.client_key},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()
        assert "ETag" in answer.headers
        assert httpx.get(f"{server.url}/catalog/health", timeout=10).json()["status"] == "ok"
        docs = httpx.get(f"{server.url}/catalog/docs", timeout=10)
        assert docs.status_code == 200
        assert httpx.get(f"{server.url}/catalog/docs/catalog.css", timeout=10).status_code == 200
        # The rest of serve is unchanged.
        assert httpx.get(f"{server.url}/_health", timeout=10).status_code == 200
    finally:
        server.stop()
