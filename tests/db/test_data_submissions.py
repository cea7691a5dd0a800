"""Submission data functions (ingest database) on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest

from earmark.db import submissions
from earmark.db.engine import Databases
from tests.services import PostgresDatabases

MBID = uuid.UUID("b81f83ee-4da4-11e0-9ed8-0025225356f3")


def _create(dbs: Databases, **overrides: object) -> int:
    values: dict[str, object] = {
        "account_id": 1,
        "application_id": 2,
        "application_version": "1.0",
        "fingerprint": [1, 2, 3, 2**32 - 1],
        "length": 120,
        "bitrate": 192,
        "format": "FLAC",
        "meta": {"track": "  Foo\x00 Bar ", "artist": "", "track_no": 20000, "year": 1999},
        "mbid": MBID,
        "puid": None,
        "foreignid": None,
    }
    values.update(overrides)
    with dbs.write() as conns:
        return submissions.create(conns.ingest, **values)  # type: ignore[arg-type]


def test_create_stores_a_pending_submission_with_normalised_meta(dbs: Databases) -> None:
    sub_id = _create(dbs)
    with dbs.read() as conns:
        sub = submissions.get(conns.ingest, sub_id)
        pending = submissions.pending_ids(conns.ingest, older_than=None, limit=10)
    assert sub is not None
    assert sub.status == "pending"
    assert not sub.handled
    assert sub.attempts == 0
    assert sub.meta == {"track": "Foo Bar", "year": 1999}
    assert sub.meta_gid == uuid.uuid5(
        uuid.UUID("3b3bd228-5d2c-11ea-b498-60f67731bf41"), '{"track":"Foo Bar","year":1999}'
    )
    assert sub.mbid == MBID
    assert sub.puid is None
    assert sub.foreignid is None
    assert sub.fingerprint.dtype == np.int32
    assert sub.fingerprint.tolist() == [1, 2, 3, -1]
    assert (sub.length, sub.bitrate, sub.format, sub.application_version) == (
        120,
        192,
        "FLAC",
        "1.0",
    )
    assert pending == [sub_id]


def test_empty_meta_is_stored_as_null(dbs: Databases) -> None:
    sub_id = _create(dbs, meta={"track": " ", "album": None}, application_version="")
    with dbs.read() as conns:
        sub = submissions.get(conns.ingest, sub_id)
    assert sub is not None
    assert sub.meta is None
    assert sub.meta_gid is None
    assert sub.application_version is None


def test_get_unknown_is_none(dbs: Databases) -> None:
    with dbs.read() as conns:
        assert submissions.get(conns.ingest, 12345) is None
        assert submissions.status_many(conns.ingest, [12345]) == {}


def test_lock_pending_oldest_first_and_remove(dbs: Databases) -> None:
    ids = [_create(dbs) for _ in range(3)]
    with dbs.write() as conns:
        assert submissions.lock_pending(conns.ingest, 2) == ids[:2]
        submissions.remove_pending(conns.ingest, ids[:1])
    with dbs.read() as conns:
        assert submissions.pending_ids(conns.ingest, older_than=None, limit=10) == ids[1:]
        assert submissions.pending_count(conns.ingest) == 2


def test_pending_ids_older_than(dbs: Databases) -> None:
    sub_id = _create(dbs)
    with dbs.read() as conns:
        assert submissions.pending_ids(conns.ingest, older_than=timedelta(hours=1), limit=5) == []
        assert submissions.pending_ids(conns.ingest, older_than=timedelta(hours=-1), limit=5) == [
            sub_id
        ]


def test_record_error_fails_after_max_attempts(dbs: Databases) -> None:
    sub_id = _create(dbs)
    with dbs.write() as conns:
        assert submissions.record_error(conns.ingest, sub_id, "boom 1", 3) is False
        assert submissions.record_error(conns.ingest, sub_id, "boom 2", 3) is False
    with dbs.read() as conns:
        sub = submissions.get(conns.ingest, sub_id)
        assert sub is not None
        assert (sub.status, sub.reason, sub.attempts) == ("pending", "boom 2", 2)
        assert submissions.pending_ids(conns.ingest, older_than=None, limit=5) == [sub_id]
    with dbs.write() as conns:
        assert submissions.record_error(conns.ingest, sub_id, "boom 3", 3) is True
    with dbs.read() as conns:
        sub = submissions.get(conns.ingest, sub_id)
        assert sub is not None
        assert (sub.status, sub.reason, sub.attempts, sub.handled) == ("failed", "boom 3", 3, True)
        assert sub.handled_at is not None
        assert submissions.pending_ids(conns.ingest, older_than=None, limit=5) == []
        status = submissions.status_many(conns.ingest, [sub_id])
    assert status[sub_id].status == "failed"
    assert status[sub_id].track_gid is None
    with dbs.write() as conns:
        # A failed submission is final: more errors do not touch it.
        assert submissions.record_error(conns.ingest, sub_id, "late", 3) is False


def test_mark_failed(dbs: Databases) -> None:
    sub_id = _create(dbs)
    with dbs.write() as conns:
        submissions.mark_failed(conns.ingest, sub_id, "undecodable")
    with dbs.read() as conns:
        sub = submissions.get(conns.ingest, sub_id)
        assert sub is not None
        assert (sub.status, sub.reason) == ("failed", "undecodable")
        assert submissions.pending_count(conns.ingest) == 0


@pytest.mark.parametrize(
    ("mbid", "puid", "meta", "foreignid", "usable"),
    [
        (MBID, None, None, None, True),
        (uuid.UUID(int=0), None, None, None, False),
        (None, uuid.UUID(int=0), {"track": "  "}, "", False),
        (None, None, {"year": 2000}, None, True),
        (None, None, None, "spotify:abc", True),
    ],
)
def test_has_link_data(
    mbid: uuid.UUID | None,
    puid: uuid.UUID | None,
    meta: dict[str, object] | None,
    foreignid: str | None,
    usable: bool,
) -> None:
    assert submissions.has_link_data(mbid=mbid, puid=puid, meta=meta, foreignid=foreignid) is usable


def test_lock_pending_skips_rows_locked_by_another_importer(
    pg_databases: PostgresDatabases,
) -> None:
    dbs = Databases.single(pg_databases.create())
    try:
        ids = [_create(dbs) for _ in range(3)]
        with dbs.write() as first:
            assert submissions.lock_pending(first.ingest, 1) == ids[:1]
            with dbs.write() as second:
                assert submissions.lock_pending(second.ingest, 5) == ids[1:]
    finally:
        dbs.dispose()
