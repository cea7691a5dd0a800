"""`earmark index sync|rebuild` on the embedded setup (SQLite + in-process index files)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from earmark.app import open_databases, open_index, searcher
from earmark.cli.main import cli
from earmark.db import fingerprints, tables
from earmark.db.engine import write_transaction
from earmark.settings import load_settings


def test_sync_then_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev_corpus_vectors: Any
) -> None:
    monkeypatch.setenv("EARMARK_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    settings = load_settings().settings
    names = [n for n in dev_corpus_vectors["fingerprints"] if n.endswith("#120")][:5]
    dbs = open_databases(settings)
    with write_transaction(dbs.fingerprint) as conn:
        for name in names:
            track_id = conn.execute(
                sa.insert(tables.track).values(gid=uuid.uuid4()).returning(tables.track.c.id)
            ).scalar_one()
            items = np.array(dev_corpus_vectors["fingerprints"][name]["raw_unsigned"])
            fp_id = conn.execute(
                sa.insert(tables.fingerprint)
                .values(fingerprint=items, length=120, track_id=track_id, submission_count=1)
                .returning(tables.fingerprint.c.id)
            ).scalar_one()
            fingerprints.outbox_add(conn, fp_id)

    result = runner.invoke(cli, ["index", "sync"])
    assert result.exit_code == 0, result.output
    assert "sent 5 fingerprints" in result.output
    result = runner.invoke(cli, ["index", "sync"])
    assert "sent 0 fingerprints" in result.output
    result = runner.invoke(cli, ["index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "indexed 5 fingerprints" in result.output

    handle = open_index(settings)
    try:
        items = np.array(dev_corpus_vectors["fingerprints"][names[2]]["raw_unsigned"])
        with dbs.fingerprint.connect() as conn:
            matches = searcher(handle).search(conn, items, 120)
        assert matches[0].score == pytest.approx(1.0)
    finally:
        handle.close()
        dbs.dispose()
