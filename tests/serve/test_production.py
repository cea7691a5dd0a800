"""The production deployment, one process per role, configured only through EARMARK_* variables:
PostgreSQL (a fresh database), Redis (a prefix of its own), NATS (a stream of its own), an index
server, the importer, the cron and `earmark run api --workers 2`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import numpy.typing as npt
import pytest
import redis
import sqlalchemy as sa
from nats.js.errors import NotFoundError

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import accounts, applications
from earmark.db.engine import Databases
from tests.importer.support import corpus_recordings
from tests.index.process import free_port
from tests.serve.process import (
    Process,
    clean_environment,
    earmark_command,
    healthy,
    load_musicbrainz_sample,
    wait_imported,
    wait_until,
)
from tests.services import (
    NATS_URL,
    REDIS_URL,
    RUN_ID,
    PostgresDatabases,
    require_nats,
    require_redis,
)

LOOKUPS = 12


@pytest.fixture(scope="module")
def recording(dev_corpus_vectors: Any) -> npt.NDArray[np.uint32]:
    return corpus_recordings(dev_corpus_vectors, 2)[1]


@pytest.fixture
def stream() -> Iterator[str]:
    require_nats()
    name = f"EARMARK_SERVE_TEST_{RUN_ID}_{uuid.uuid4().hex[:6]}".upper()
    yield name

    async def delete() -> None:
        nc = await nats.connect(NATS_URL)
        try:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(delete())


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require_redis()
    prefix = f"earmark-serve-test:{RUN_ID}:{uuid.uuid4().hex[:6]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = set(client.scan_iter(match=prefix + "*"))  # SCAN may return a key twice
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class Fleet:
    """The processes of one deployment; each stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[Process] = []

    def start(self, *args: str) -> Process:
        process = Process([*earmark_command(), *args], self.env, name=" ".join(args[:2]))
        self.processes.append(process)
        return process

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for process in reversed(self.processes):
            codes[process.name] = process.stop()
        return codes


def client_key(database_url: str) -> tuple[str, str]:
    """An account and an application, made as an operator would (the data functions)."""
    dbs = Databases.single(database_url)
    try:
        with dbs.write() as conns:
            account = accounts.create(conns.app, name="operator")
            app = applications.create(
                conns.app, name="Test client", version="1.0", account_id=account.id
            )
    finally:
        dbs.dispose()
    return app.apikey, account.apikey


@pytest.mark.slow
def test_postgresql_redis_nats_index_server_and_two_api_workers(
    pg_databases: PostgresDatabases,
    stream: str,
    redis_prefix: str,
    tmp_path: Path,
    recording: npt.NDArray[np.uint32],
) -> None:
    database_url = pg_databases.create()
    index_port, api_port = free_port(), free_port()
    env = clean_environment(
        EARMARK_DATA_DIR=str(tmp_path / "data"),
        EARMARK_DATABASE_URL=database_url,
        EARMARK_MUSICBRAINZ_DATABASE_URL=database_url,
        EARMARK_INDEX_URL=f"http://127.0.0.1:{index_port}",
        EARMARK_QUEUE="nats",
        EARMARK_NATS_URL=NATS_URL,
        EARMARK_NATS_STREAM=stream,
        EARMARK_REDIS_URL=REDIS_URL,
        EARMARK_REDIS_PREFIX=redis_prefix,
        EARMARK_SHUTDOWN_DELAY="0.5",
    )
    mbid, title = load_musicbrainz_sample(env, database_url)
    client, user = client_key(database_url)
    fleet = Fleet(env)
    try:
        index = fleet.start(
            "run", "index", "--port", str(index_port), "--dir", str(tmp_path / "ix")
        )
        healthy(f"http://127.0.0.1:{index_port}", index)
        fleet.start("run", "importer")
        cron = fleet.start("run", "cron")
        api = fleet.start("run", "api", "--workers", "2", "--port", str(api_port))
        url = f"http://127.0.0.1:{api_port}"
        healthy(url, api)

        fingerprint = encode_fingerprint_base64(recording)
        answer = httpx.post(
            url + "/v2/submit",
            data={
                "client": client,
                "user": user,
                "duration": "120",
                "fingerprint": fingerprint,
                "mbid": mbid,
                "track": title,
            },
            timeout=30,
        ).json()
        assert answer["status"] == "ok", answer
        (submission,) = answer["submissions"]
        track_id = wait_imported(url, client, submission["id"], timeout=90)

        for _ in range(LOOKUPS):
            # A new connection each time, so the kernel spreads them over both workers.
            found = httpx.post(
                url + "/v2/lookup",
                data={
                    "client": client,
                    "duration": "120",
                    "fingerprint": fingerprint,
                    "meta": "recordings",
                },
                timeout=30,
            ).json()
            assert found["status"] == "ok", found
            (best,) = found["results"]
            assert best["id"] == track_id
            assert best["recordings"] == [{**best["recordings"][0], "id": mbid, "title": title}], (
                best
            )

        # /v2/identify: each worker has its clip index (one writes the file, the other reads
        # it), caught up from PostgreSQL; a 10 s slice is placed at its offset by both.
        clip = encode_fingerprint_base64(recording[300:380])
        for _ in range(4):
            placed = httpx.post(
                url + "/v2/identify", data={"client": client, "fingerprint": clip}, timeout=30
            ).json()
            assert placed["status"] == "ok", placed
            assert [(r["id"], r["offset"]) for r in placed["results"]] == [(track_id, 37.14)]

        # Whichever worker answers, /metrics sums both (prometheus' multiprocess mode).
        metrics = httpx.get(url + "/metrics", timeout=10)
        assert metrics.status_code == 200
        assert _sample(
            metrics.text, 'earmark_api_requests_total{endpoint="lookup",status="200"}'
        ) == (LOOKUPS)
        assert _sample(metrics.text, "earmark_importer_queue_depth") == 0
        # The lookups were counted in Redis, under this run's prefix (the cron drains them).
        wait_until(
            lambda: any(redis.Redis.from_url(REDIS_URL).scan_iter(match=redis_prefix + "*")),
            10,
            "counters in Redis",
        )
        assert cron.proc.poll() is None, cron.describe()

        # A worker that dies is replaced; the service stays up meanwhile.
        first = api_workers(api.proc.pid)
        assert len(first) == 2, first
        os.kill(first[0], signal.SIGKILL)
        wait_until(
            lambda: (
                len(api_workers(api.proc.pid)) == 2 and first[0] not in api_workers(api.proc.pid)
            ),
            30,
            "a replacement worker",
        )
        healthy(url, api)
    finally:
        codes = fleet.stop_all()
    assert codes == dict.fromkeys(codes, 0), [p.describe() for p in fleet.processes]


@pytest.mark.slow
def test_run_api_refuses_an_in_process_index_no_redis_and_unmigrated_databases(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    env = clean_environment(EARMARK_DATA_DIR=str(tmp_path / "data"))
    process = Process([*earmark_command(), "run", "api", "--port", str(free_port())], env)
    assert process.wait(60) == 2
    assert "needs index_url" in process.stderr

    env["EARMARK_INDEX_URL"] = "http://127.0.0.1:9"
    process = Process([*earmark_command(), "run", "api", "--port", str(free_port())], env)
    assert process.wait(60) == 2
    assert "needs redis_url" in process.stderr

    require_redis()
    fresh = pg_databases.create(migrated=False)
    env["EARMARK_DATABASE_URL"] = fresh
    env["EARMARK_REDIS_URL"] = REDIS_URL
    # Fail at once instead of waiting for what is unreachable (tests/cli/test_startup_wait.py).
    env["EARMARK_STARTUP_WAIT_SECONDS"] = "0"
    process = Process([*earmark_command(), "run", "api", "--port", str(free_port())], env)
    assert process.wait(60) == 3
    assert "earmark db upgrade" in process.stderr
    assert "Traceback" not in process.stderr

    env["EARMARK_DATABASE_URL"] = sa.make_url(fresh).set(port=9).render_as_string(False)
    process = Process([*earmark_command(), "run", "api", "--port", str(free_port())], env)
    assert process.wait(60) == 3
    assert "unreachable after 0 s (startup_wait_seconds): PostgreSQL at 127.0.0.1:9" in (
        process.stderr
    )
    assert "Traceback" not in process.stderr


def api_workers(parent: int) -> list[int]:
    """The worker processes of `earmark run api` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        worker = b"multiprocessing.spawn" in command and b"resource_tracker" not in command
        if ppid == parent and worker:
            found.append(int(entry.name))
    return sorted(found)


def _sample(exposition: str, name: str) -> float:
    """The value of one sample line of a Prometheus exposition."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", exposition, re.MULTILINE)
    assert found is not None, f"{name} not in /metrics:\n{exposition[:3000]}"
    return float(found.group(1))
