"""The detectors of the crash gate (`make stress`, bench/stress.py): a gate that cannot see a
lost or doubled import, or a leak, would pass whatever the service does.

The ledger reads real imports (the real decision procedure on SQLite and PostgreSQL); the
damage a crash could do is then written into the tables, and the ledger must name it.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import tables as t
from tests.importer.harness import Harness
from tests.importer.support import corpus_recordings
from tests.support import bench_module


@pytest.fixture(scope="module")
def recordings(dev_corpus_vectors: Any) -> list[np.ndarray]:
    return corpus_recordings(dev_corpus_vectors, 2)


def test_the_ledger_passes_clean_imports_and_names_doubled_and_missing_rows(
    harness: Harness, database_url: str, recordings: list[np.ndarray]
) -> None:
    read_ledger = bench_module("ledger").read_ledger
    ids = [
        harness.submit(items, 120, mbid=uuid.uuid4(), meta={"track": f"Track {n}"})
        for n, items in enumerate(recordings)
    ]
    # The same recording again: merged into the first fingerprint, counted on it.
    ids.append(harness.submit(recordings[0], 120, mbid=uuid.uuid4(), meta={"track": "Again"}))
    for submission_id in ids:
        harness.run(submission_id)
    clean = read_ledger(database_url)
    assert sorted(clean.imported()) == ids
    assert clean.counters == clean.expected == dict.fromkeys(clean.counters, 3)
    assert (clean.duplicated(), clean.problems()) == (0, [])

    # An import replayed after a crash would add a second source row and count twice.
    with harness.dbs.write() as conns:
        source = conns.ingest.execute(
            sa.select(t.fingerprint_source).where(t.fingerprint_source.c.submission_id == ids[0])
        ).one()
        conns.ingest.execute(
            sa.insert(t.fingerprint_source).values(
                fingerprint_id=source.fingerprint_id,
                submission_id=ids[0],
                source_id=source.source_id,
            )
        )
        conns.fingerprint.execute(
            sa.update(t.fingerprint)
            .where(t.fingerprint.c.id == source.fingerprint_id)
            .values(submission_count=t.fingerprint.c.submission_count + 1)
        )
    doubled = read_ledger(database_url)
    assert doubled.duplicated() == 1
    problems = " | ".join(doubled.problems())
    assert f"e.g. {ids[0]}: (2, 1, 1, 1, 1)" in problems
    assert "sum of fingerprint.submission_count is 4, expected 3" in problems

    # A submission marked imported whose result row is gone was not imported once.
    with harness.dbs.write() as conns:
        conns.ingest.execute(
            sa.delete(t.submission_result).where(t.submission_result.c.submission_id == ids[1])
        )
    missing = read_ledger(database_url)
    assert missing.duplicated() == 1
    assert "2 imported submissions without exactly one row each" in missing.problems()[0]


def test_the_rss_verdict_fails_growth_past_the_bound_only() -> None:
    rss_verdict = bench_module("stress").rss_verdict
    mib = 2**20
    flat = [(float(s), 200 * mib + (s % 3) * mib) for s in range(60)]
    verdict = rss_verdict(flat, warmup=10, limit_mb=100, limit_ratio=0.5)
    assert verdict["rss_ok"]
    assert verdict["rss_bound_mb"] == 100.0  # min(50 % of ~200 MB, 100 MB)

    # 2 MB a second after warm-up: 120 MB by the end, past the bound.
    leaking = [(float(s), 200 * mib + max(0, s - 10) * 2 * mib) for s in range(71)]
    verdict = rss_verdict(leaking, warmup=10, limit_mb=100, limit_ratio=0.5)
    assert not verdict["rss_ok"]
    assert verdict["rss_growth_mb"] == 120.0
