"""Import safety: a half-committed import across split databases, and the advisory locks."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import fingerprints, links, submissions, tracks
from earmark.db.engine import Databases
from earmark.importer import locks
from earmark.importer.outcome import ImportOutcome
from tests.db import queries
from tests.importer.harness import Harness, fixture_items
from tests.services import PostgresDatabases

MBID = uuid.UUID("b81f83ee-4da4-11e0-9ed8-0025225356f3")
PUID = uuid.UUID("40a8d26e-0a1b-4b4b-9c2f-6d1a8b4f3a11")


class SimulatedCrashError(Exception):
    pass


@pytest.fixture(params=["sqlite", "postgresql"])
def split_dbs(request: pytest.FixtureRequest) -> Iterator[Databases]:
    """app, fingerprint and ingest in three different databases of one engine."""
    factory = request.getfixturevalue(f"{request.param.replace('postgresql', 'pg')}_databases")
    databases = Databases(
        {"app": factory.create(), "fingerprint": factory.create(), "ingest": factory.create()}
    )
    assert not databases.one_database
    yield databases
    databases.dispose()


@pytest.fixture
def harness(split_dbs: Databases, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(split_dbs, tmp_path / "index")
    yield h
    h.close()


@pytest.fixture
def fp(acoustid_fixtures: Any) -> dict[str, tuple[Any, int]]:
    return {name: fixture_items(acoustid_fixtures, name) for name in ("1A", "1B", "2")}


def _run_with_lost_ingest_commit(h: Harness, submission_id: int) -> None:
    """Import, with the process dying after the fingerprint database committed."""

    def fail(_conn: sa.Connection) -> None:
        raise SimulatedCrashError("crash before the ingest commit")

    sa.event.listen(h.dbs.ingest, "commit", fail)
    try:
        with pytest.raises(SimulatedCrashError):
            h.run(submission_id, flush=False)
    finally:
        sa.event.remove(h.dbs.ingest, "commit", fail)


def _provenance(h: Harness, submission_id: int, track_id: int) -> dict[str, Any]:
    with h.dbs.read() as conns:
        fconn, iconn = conns.fingerprint, conns.ingest
        mbid = links.find(fconn, "mbid", track_id, MBID)
        puid = links.find(fconn, "puid", track_id, PUID)
        assert mbid is not None
        assert puid is not None
        return {
            "fingerprint_sources": queries.fingerprint_source_ids(iconn, submission_id),
            "mbid_count": mbid.submission_count,
            "puid_count": puid.submission_count,
            "mbid_sources": queries.link_source_count(iconn, "mbid", mbid.id),
            "puid_sources": queries.link_source_count(iconn, "puid", puid.id),
            "result": submissions.get_result(iconn, submission_id) is not None,
        }


def test_split_databases_import_and_status(harness: Harness, fp: Any) -> None:
    outcome = harness.submit_and_run(*fp["1A"], mbid=MBID, puid=PUID)
    assert outcome.status == "imported"
    assert outcome.track_id is not None
    with harness.dbs.read() as conns:
        status = submissions.status_many(
            conns.ingest, [outcome.submission_id], fingerprint_conn=conns.fingerprint
        )[outcome.submission_id]
        track = tracks.get(conns.fingerprint, outcome.track_id)
    assert track is not None
    assert status.track_gid == track.gid


def test_retry_finishes_a_half_committed_new_fingerprint(harness: Harness, fp: Any) -> None:
    sub_id = harness.submit(*fp["1A"], mbid=MBID, puid=PUID)
    _run_with_lost_ingest_commit(harness, sub_id)
    with harness.dbs.read() as conns:
        recorded = fingerprints.get_import(conns.fingerprint, sub_id)
        assert recorded is not None
        assert recorded.new_fingerprint
        assert fingerprints.outbox_size(conns.fingerprint) == 1
        assert submissions.get_result(conns.ingest, sub_id) is None
    assert harness.submission(sub_id).status == "pending"

    outcome = harness.run(sub_id)
    assert outcome == ImportOutcome(
        sub_id,
        "imported",
        fingerprint_id=recorded.fingerprint_id,
        track_id=recorded.track_id,
        new_fingerprint=True,
        new_track=True,
    )
    assert _count(harness, recorded.fingerprint_id) == 1
    assert _provenance(harness, sub_id, recorded.track_id) == {
        "fingerprint_sources": [recorded.fingerprint_id],
        "mbid_count": 1,
        "puid_count": 1,
        "mbid_sources": 1,
        "puid_sources": 1,
        "result": True,
    }
    assert harness.submission(sub_id).status == "imported"
    with harness.dbs.read() as conns:
        assert tracks.count(conns.fingerprint) == 1
        assert submissions.pending_count(conns.ingest) == 0
    assert harness.run(sub_id).status == "already"


def test_retry_finishes_a_half_committed_reuse(harness: Harness, fp: Any) -> None:
    first = harness.submit_and_run(*fp["1A"], mbid=MBID, puid=PUID)
    sub_id = harness.submit(*fp["1B"], mbid=MBID, puid=PUID)
    _run_with_lost_ingest_commit(harness, sub_id)
    outcome = harness.run(sub_id)
    assert outcome.status == "imported"
    assert (outcome.fingerprint_id, outcome.track_id) == (first.fingerprint_id, first.track_id)
    assert not outcome.new_fingerprint
    assert not outcome.new_track
    assert first.fingerprint_id is not None
    assert first.track_id is not None
    assert _count(harness, first.fingerprint_id) == 2
    assert _provenance(harness, sub_id, first.track_id) == {
        "fingerprint_sources": [first.fingerprint_id],
        "mbid_count": 2,
        "puid_count": 2,
        "mbid_sources": 2,
        "puid_sources": 2,
        "result": True,
    }


def _count(h: Harness, fingerprint_id: int) -> int | None:
    with h.dbs.read() as conns:
        return fingerprints.submission_count(conns.fingerprint, fingerprint_id)


# --- advisory locks (PostgreSQL) ------------------------------------------------------------


@pytest.fixture
def pg_harness(pg_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Harness]:
    """Advisory locks are PostgreSQL's (SQLite has a single writer and needs none)."""
    dbs = Databases.single(pg_databases.create())
    h = Harness(dbs, tmp_path / "index")
    yield h
    h.close()
    dbs.dispose()


@pytest.mark.parametrize("which", ["fingerprint", "mbid"])
def test_busy_when_another_import_holds_a_lock(pg_harness: Harness, fp: Any, which: str) -> None:
    items, length = fp["1A"]
    sub_id = pg_harness.submit(items, length, mbid=MBID)
    key = locks.fingerprint_key(items) if which == "fingerprint" else locks.mbid_key(MBID)
    with pg_harness.dbs.fingerprint.connect() as other, other.begin():
        other.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": key[0], "b": key[1]})
        outcome = pg_harness.run(sub_id)
        assert outcome == ImportOutcome(sub_id, "busy")
        assert not outcome.final
        sub = pg_harness.submission(sub_id)
        assert (sub.status, sub.handled, sub.attempts) == ("pending", False, 0)
        with pg_harness.dbs.read() as conns:
            assert fingerprints.count(conns.fingerprint) == 0
            assert submissions.pending_ids(conns.ingest, older_than=None, limit=5) == [sub_id]
    # The other transaction ended: the import goes through.
    assert pg_harness.run(sub_id).status == "imported"


def test_lock_keys_follow_the_reference() -> None:
    assert locks.mbid_key(MBID) == (
        zlib.crc32(b"import.mbid") & 0x7FFFFFFF,
        zlib.crc32(str(MBID).encode()) & 0x7FFFFFFF,
    )
    k1, k2 = locks.fingerprint_key(np.array([0xFFFFFFFF] * 3, dtype=np.uint32))
    assert k1 == zlib.crc32(b"import.fp") & 0x7FFFFFFF
    assert k2 == -1  # SimHash 0xFFFFFFFF as a signed int4
