"""`earmark run importer`: the command, its options, its settings and its signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from earmark.chromaprint.compare import extract_query
from earmark.cli.run_importer import importer
from earmark.db.engine import Databases
from earmark.importer.nats_queue import NatsQueue
from earmark.index.client import LocalIndexClient
from earmark.index.engine import MultiIndex
from tests.importer.harness import Harness
from tests.importer.support import corpus_recordings, ledger, pending_count
from tests.services import NATS_URL, SqliteDatabases
from tests.support import ROOT


@pytest.fixture(scope="module")
def recordings(dev_corpus_vectors: Any) -> list[np.ndarray]:
    return corpus_recordings(dev_corpus_vectors, 3)


@pytest.fixture
def setup(
    sqlite_databases: SqliteDatabases, tmp_path: Path, recordings: list[np.ndarray]
) -> tuple[dict[str, str], Databases, list[int]]:
    """An embedded installation (SQLite + data dir) with three waiting submissions."""
    url = sqlite_databases.create()
    dbs = Databases.single(url)
    data = Harness(dbs, tmp_path / "scratch-index")
    ids = [data.submit(items, 120, mbid=uuid.uuid4()) for items in recordings]
    data.close()
    env = {"EARMARK_DATABASE_URL": url, "EARMARK_DATA_DIR": str(tmp_path / "data")}
    return env, dbs, ids


def test_until_idle_imports_everything_into_the_data_dir_index(
    setup: tuple[dict[str, str], Databases, list[int]], tmp_path: Path, recordings: list[Any]
) -> None:
    env, dbs, ids = setup
    result = CliRunner().invoke(importer, ["--until-idle"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported 3, skipped 0, already 0, failed 0, busy 0, errors 0"
    assert ledger(dbs).imported() == ids
    engine = MultiIndex(tmp_path / "data" / "index")
    try:
        index = LocalIndexClient(engine)
        hits = index.search("main", extract_query(recordings[0]).tolist())
        assert hits
        assert hits[0].score > 50
    finally:
        engine.close()
        dbs.dispose()


def test_once_takes_one_batch(setup: tuple[dict[str, str], Databases, list[int]]) -> None:
    env, dbs, _ = setup
    runner = CliRunner()
    result = runner.invoke(importer, ["--once", "--batch-size", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported 2,")
    assert pending_count(dbs) == 1
    result = runner.invoke(importer, ["--once"], env=env)
    assert result.output.startswith("imported 1,")
    assert pending_count(dbs) == 0
    dbs.dispose()


def test_once_and_until_idle_exclude_each_other() -> None:
    result = CliRunner().invoke(importer, ["--once", "--until-idle"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_nats_queue_from_settings(
    setup: tuple[dict[str, str], Databases, list[int]], nats_stream: str
) -> None:
    env, dbs, ids = setup

    async def publish() -> int:
        async with NatsQueue(NATS_URL, nats_stream) as queue:
            return await queue.publish(ids)

    assert asyncio.run(publish()) == 3
    env |= {
        "EARMARK_QUEUE": "nats",
        "EARMARK_NATS_URL": NATS_URL,
        "EARMARK_NATS_STREAM": nats_stream,
    }
    result = CliRunner().invoke(importer, ["--until-idle"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported 3,")
    assert pending_count(dbs) == 0
    dbs.dispose()


def test_sigterm_stops_the_importer_cleanly(
    setup: tuple[dict[str, str], Databases, list[int]],
) -> None:
    env, dbs, _ = setup
    proc = subprocess.Popen(
        [sys.executable, "-m", "earmark.cli.run_importer"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while pending_count(dbs) and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
        assert pending_count(dbs) == 0  # imported while running
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        dbs.dispose()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert out.decode().startswith("imported 3,")
