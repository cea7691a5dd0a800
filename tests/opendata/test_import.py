"""`earmark data import` of the scenario on SQLite and PostgreSQL, then /v2/lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import opendata as db
from earmark.db import tables
from earmark.db.engine import read_connection, write_transaction
from earmark.indexsync import flush_outbox
from earmark.opendata.importer import PUBLIC, ImportOptions, import_days
from earmark.opendata.report import DataImportReport
from earmark.opendata.source import DataDirectory
from tests.api.harness import INDEX_NAME, ApiHarness
from tests.opendata.scenario import GID, MBID, MISSING_DAY, PLAIN_DAY, TITLE, write_scenario


def run(api: ApiHarness, root: Path, **options: Any) -> DataImportReport:
    return import_days(
        api.dbs.fingerprint,
        DataDirectory(root),
        ImportOptions(**options),
        flush=lambda: flush_outbox(api.dbs, api.searcher.index, INDEX_NAME),
    )


def lookup(api: ApiHarness, items: list[int]) -> list[tuple[str, set[str]]]:
    text = encode_fingerprint_base64(np.array(items, dtype=np.int32).view(np.uint32))
    body = api.json(
        "/v2/lookup",
        {"client": api.client_key, "fingerprint": text, "duration": 120, "meta": "recordingids"},
    )
    assert body["status"] == "ok", body
    return [
        (r["id"], {rec["id"] for rec in r.get("recordings", [])})
        for r in body["results"]
        if r["score"] > 0.9
    ]


def test_scenario_imports_and_lookups_return_survivors(
    api: ApiHarness, tmp_path: Path, dev_corpus_vectors: Any
) -> None:
    fp = write_scenario(tmp_path / "data", dev_corpus_vectors)
    report = run(api, tmp_path / "data")

    assert report.days == 3
    assert report.problems == {
        "missing-day": 1,
        "missing-file": report.problems["missing-file"],
        "duplicate-id": 1,
        "invalid-row": 1,
        "unknown-track": 1,
        "unknown-row": 1,
    }
    assert report.examples["missing-day"] == [MISSING_DAY.isoformat()]
    assert "outside int32" in report.examples["invalid-row"][0]
    assert "track_mbid 404" in report.examples["unknown-track"][0]

    survivor = str(GID[1])
    abc = {MBID["A"], MBID["B"], MBID["C"]}
    assert lookup(api, fp["breeze"]) == [(survivor, abc)]
    assert lookup(api, fp["boss"]) == [(survivor, abc)]  # track 2's fingerprint moved
    assert lookup(api, fp["disko"]) == [(str(GID[3]), {MBID["D"], MBID["B"]})]
    assert lookup(api, fp["night"]) == [(str(GID[4]), {MBID["D"]})]

    with read_connection(api.dbs.fingerprint) as conn:
        links = conn.execute(
            sa.select(
                tables.track_mbid.c.mbid,
                tables.track_mbid.c.submission_count,
                tables.track_mbid.c.disabled,
                tables.track_mbid.c.track_id,
            )
        ).all()
        metas = conn.execute(sa.select(tables.meta.c.track)).scalars().all()
        progress = db.progress(conn, PUBLIC)
        imported = db.imported_ids(conn, PUBLIC, "track_mbid")
    # 406 folded into 401 (same track once merged, count never lowered); 402 and 405 on the
    # survivor; 405 enabled again; 407's later row kept.
    assert sorted((str(m), t, c, d) for m, c, d, t in links) == sorted(
        [
            (MBID["A"], 1, 5, False),
            (MBID["B"], 1, 2, False),
            (MBID["C"], 1, 1, False),
            (MBID["D"], 3, 1, False),
            (MBID["B"], 3, 4, False),
            (MBID["D"], 4, 1, False),
        ]
    )
    assert metas == [TITLE]
    assert set(progress.values()) == {PLAIN_DAY}
    assert len(imported) == 6

    again = run(api, tmp_path / "data")
    assert again.days == 0
    assert again.rows() == 0
    # Forgetting the progress replays every day: the id map makes it change nothing.
    with write_transaction(api.dbs.fingerprint) as conn:
        conn.execute(sa.delete(tables.opendata_progress))
    replay = run(api, tmp_path / "data")
    assert replay.days == 3
    assert replay.rows() == 0
    assert lookup(api, fp["boss"]) == [(survivor, abc)]
