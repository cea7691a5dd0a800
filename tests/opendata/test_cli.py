"""`earmark data` from the command line: embedded mode (SQLite + the in-process index), log
lines off a terminal, usage errors, and a real `kill -9` in the middle of an import."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from earmark.app import open_databases, open_index, searcher
from earmark.cli.main import cli
from earmark.db import fingerprints, tables
from earmark.db.engine import read_connection
from earmark.settings import load_settings
from tests.index.process import ServerProcess
from tests.opendata.scenario import GID, write_scenario
from tests.opendata.test_sources import days
from tests.serve.process import (
    Process,
    clean_environment,
    earmark_command,
    run_earmark,
    wait_until,
)
from tests.services import PostgresDatabases


def test_import_status_export_in_embedded_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_corpus_vectors: Any
) -> None:
    monkeypatch.setenv("EARMARK_DATA_DIR", str(tmp_path / "earmark"))
    fp = write_scenario(tmp_path / "data", dev_corpus_vectors)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0

    dry = runner.invoke(cli, ["data", "import", str(tmp_path / "data"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output
    assert runner.invoke(cli, ["data", "status"]).output == "no open data imported\n"

    result = runner.invoke(cli, ["data", "import", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("3 days applied")
    assert "problem missing-day: 1" in result.output
    assert "  e.g. 2024-12-06" in result.output
    status = runner.invoke(cli, ["data", "status"]).output
    assert "acoustid-public\ttrack_mbid\t2024-12-07\t7 rows" in status

    settings = load_settings().settings
    dbs = open_databases(settings)
    handle = open_index(settings)
    try:
        with read_connection(dbs.fingerprint) as conn:
            assert fingerprints.outbox_size(conn) == 0  # every fingerprint sent to the index
            items = np.array(fp["boss"], dtype=np.int32).view(np.uint32)
            matches = searcher(handle).search(conn, items, 120)
            gid = conn.execute(
                sa.select(tables.track.c.gid).where(tables.track.c.id == matches[0].track_id)
            ).scalar_one()
        assert gid == GID[1]  # the survivor of the merge
    finally:
        handle.close()
        dbs.dispose()

    out = tmp_path / "export"
    # The daily export runs from 2024-12-04 to yesterday (tests/opendata/test_export.py);
    # the snapshot is one day.
    exported = runner.invoke(cli, ["data", "export", "--full", str(out)])
    assert exported.exit_code == 0, exported.output
    assert len(list(out.rglob("*-update.jsonl.gz"))) == 7
    assert (out / "index.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--streams", "track,bogus"], "unknown streams: bogus"),
        (["--since", "2024-13-01"], "not a date"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["data", "import", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_bad_sources_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARMARK_DATA_DIR", str(tmp_path / "earmark"))
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    missing = runner.invoke(cli, ["data", "import", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "not a directory" in missing.output
    url = runner.invoke(cli, ["data", "import", "http://example.org/data"])
    assert url.exit_code == 1
    assert "not a data URL" in url.output


def test_kill_9_in_the_middle_loses_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "earmark"
    env = clean_environment(EARMARK_DATA_DIR=str(data_dir), EARMARK_LOG_LEVEL="INFO")
    total_days, per_day = 40, 40
    days(tmp_path / "data", total_days, per_day=per_day)
    monkeypatch.setenv("EARMARK_DATA_DIR", str(data_dir))
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0

    proc = Process([*earmark_command(), "data", "import", str(tmp_path / "data")], env)
    try:
        applied = re.compile(r"applied 2025-03-0[2-9]")
        wait_until(lambda: applied.search(proc.stderr), 60, "a day applied", interval=0.01)
        proc.send(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.stop()

    dbs = open_databases(load_settings().settings)

    def state() -> tuple[int, int, int]:
        with read_connection(dbs.fingerprint) as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(tables.track)).scalar_one()
            links = conn.execute(
                sa.select(sa.func.count()).select_from(tables.track_mbid)
            ).scalar_one()
            done = conn.execute(
                sa.select(sa.func.count()).select_from(tables.opendata_progress)
            ).scalar_one()
        return count, links, done

    try:
        tracks, links, _ = state()
        # Whole days only: every day applied has its tracks and links, nothing more.
        assert tracks == links
        assert tracks % per_day == 0
        assert tracks < total_days * per_day, "the import finished before the kill"
        rerun = run_earmark(["data", "import", str(tmp_path / "data")], env)
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stdout.startswith(f"{total_days - tracks // per_day} days applied")
        assert state() == (total_days * per_day, total_days * per_day, 7)
    finally:
        dbs.dispose()


def test_import_in_production_mode(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dev_corpus_vectors: Any,
    pg_databases: PostgresDatabases,
) -> None:
    """PostgreSQL and an index server (`earmark run index`): what `earmark run cron` uses."""
    server = ServerProcess(tmp_path / "index")
    server.start()
    try:
        monkeypatch.setenv("EARMARK_DATA_DIR", str(tmp_path / "earmark"))
        monkeypatch.setenv("EARMARK_DATABASE_URL", pg_databases.create())
        monkeypatch.setenv("EARMARK_INDEX_URL", server.url)
        fp = write_scenario(tmp_path / "data", dev_corpus_vectors)
        result = CliRunner().invoke(cli, ["data", "import", str(tmp_path / "data")])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("3 days applied")
        settings = load_settings().settings
        dbs = open_databases(settings)
        handle = open_index(settings)
        try:
            with read_connection(dbs.fingerprint) as conn:
                assert fingerprints.outbox_size(conn) == 0
                for song, track in (("boss", 1), ("disko", 3), ("night", 4)):
                    items = np.array(fp[song], dtype=np.int32).view(np.uint32)
                    match = searcher(handle).search(conn, items, 120)[0]
                    gid = conn.execute(
                        sa.select(tables.track.c.gid).where(tables.track.c.id == match.track_id)
                    ).scalar_one()
                    assert gid == GID[track]
        finally:
            handle.close()
            dbs.dispose()
    finally:
        server.terminate()
