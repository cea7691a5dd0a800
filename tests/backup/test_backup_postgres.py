"""`earmark backup` / `earmark restore` of a production set-up, for real: PostgreSQL (a fresh
database on the test server, through pg_dump/pg_restore) and an `earmark run index` server. The
index copy is older than the database (two fingerprints still wait in the outbox at the cut), so
the restore must send those to the restored index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from earmark import indexsync
from earmark.chromaprint.compare import extract_query
from earmark.db import fingerprints, tracks
from earmark.db.engine import Databases
from earmark.index.client import HttpIndexClient, LocalIndexClient
from earmark.index.engine import MultiIndex
from tests.serve.process import Process, clean_environment, earmark_command, free_port, run_earmark
from tests.serve.process import healthy as wait_healthy
from tests.services import PostgresDatabases
from tests.support import require_tool

COUNT = 5
WAITING = 2  # fingerprints left in the outbox when the backup is taken


def items(seed: int) -> np.ndarray[tuple[int], np.dtype[np.uint32]]:
    return np.random.default_rng(seed).integers(0, 2**32, 300, dtype=np.uint32)


def add(dbs: Databases, seeds: range) -> list[int]:
    with dbs.write() as conns:
        track = tracks.insert(conns.fingerprint)
        return [
            fingerprints.insert(
                conns.fingerprint,
                items=items(seed),
                length=120,
                bitrate=None,
                format_id=None,
                track_id=track.id,
            )
            for seed in seeds
        ]


def test_production_backup_restore_catches_the_index_up(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    require_tool("pg_dump")
    source_url = pg_databases.create()
    port = free_port()
    server = Process(
        [*earmark_command(), "run", "index", "--port", str(port), "--dir", str(tmp_path / "live")],
        clean_environment(),
        name="earmark run index",
    )
    dbs = Databases.single(source_url)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        client = HttpIndexClient(f"http://127.0.0.1:{port}")
        ids = add(dbs, range(COUNT - WAITING))
        indexsync.flush_outbox(dbs, client, "main")
        client.close()
        ids += add(dbs, range(COUNT - WAITING, COUNT))  # written, not yet sent to the index
        env = clean_environment(
            EARMARK_DATABASE_URL=source_url, EARMARK_INDEX_URL=f"http://127.0.0.1:{port}"
        )
        taken = run_earmark(["backup", str(tmp_path / "backup")], env)
        assert taken.returncode == 0, taken.stderr
        assert f"catch-up from fingerprint {ids[COUNT - WAITING]}" in taken.stdout
    finally:
        dbs.dispose()
        server.stop()

    # A database that has tables is refused; an empty one is restored into.
    refused = run_earmark(["restore", str(tmp_path / "backup")], env)
    assert refused.returncode == 1
    assert "already has tables" in refused.stderr
    target_url = pg_databases.create(migrated=False)
    env = clean_environment(EARMARK_DATABASE_URL=target_url, EARMARK_INDEX_URL="http://unused")
    restore_args = ["restore", str(tmp_path / "backup"), "--index-dir", str(tmp_path / "new")]
    done = run_earmark(restore_args, env)
    assert done.returncode == 0, done.stderr
    assert f"{WAITING} fingerprint(s) sent" in done.stdout

    restored = Databases.single(target_url)
    engine = MultiIndex(tmp_path / "new")
    try:
        with restored.read() as conns:
            assert fingerprints.outbox_size(conns.fingerprint) == 0
            stored = fingerprints.get_many(conns.fingerprint, ids)
            assert [fp.id for fp in stored] == ids
        index = LocalIndexClient(engine)
        for seed, fingerprint_id in enumerate(ids):
            hits = index.search("main", extract_query(items(seed)))
            assert hits, f"fingerprint {fingerprint_id} is not in the restored index"
            assert hits[0].id == fingerprint_id
    finally:
        engine.close()
        restored.dispose()


def test_restore_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    require_tool("pg_restore")
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "manifest.json").write_text(
        '{"format": 1, "kind": "postgresql", "earmark_version": "0", "created": "", '
        '"index_name": "main", "position": 1, "files": [], '
        '"databases": [{"file": "app-fingerprint-ingest.dump", '
        '"roles": ["app", "fingerprint", "ingest"]}]}'
    )
    env = clean_environment(
        EARMARK_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        EARMARK_INDEX_URL="http://unused",
    )
    done = run_earmark(["restore", str(backup), "--index-dir", str(tmp_path / "index")], env)
    assert done.returncode == 1
    assert "cannot reach postgresql://nobody@127.0.0.1" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
