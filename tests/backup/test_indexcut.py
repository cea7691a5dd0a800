"""The backup's cut between the fingerprint database and the index (earmark.db.indexcut), on
SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import fingerprints, indexcut, tracks
from earmark.db.engine import Databases, write_transaction

ITEMS = np.arange(120, dtype=np.uint32) * 104729 + 0x1000


def _add(dbs: Databases, count: int) -> list[int]:
    with dbs.write() as conns:
        track = tracks.insert(conns.fingerprint)
        return [
            fingerprints.insert(
                conns.fingerprint,
                items=ITEMS,
                length=60,
                bitrate=None,
                format_id=None,
                track_id=track.id,
            )
            for _ in range(count)
        ]


def _outbox(dbs: Databases) -> list[int]:
    with dbs.read() as conns:
        return fingerprints.unindexed_ids(conns.fingerprint)


def test_position_is_the_oldest_waiting_fingerprint_else_the_next_id(dbs: Databases) -> None:
    with dbs.read() as conns:
        assert indexcut.catch_up_position(conns.fingerprint) == 1  # an empty database
    ids = _add(dbs, 4)
    with dbs.read() as conns:
        assert indexcut.catch_up_position(conns.fingerprint) == ids[0]  # all four wait
    with dbs.write() as conns:
        fingerprints.outbox_remove(conns.fingerprint, ids[:2])  # the index confirmed two
    with dbs.read() as conns:
        assert indexcut.catch_up_position(conns.fingerprint) == ids[2]
    with dbs.write() as conns:
        fingerprints.outbox_remove(conns.fingerprint, ids[2:])
    with dbs.read() as conns:
        assert indexcut.catch_up_position(conns.fingerprint) == ids[-1] + 1


def test_queue_from_adds_each_fingerprint_once(dbs: Databases) -> None:
    ids = _add(dbs, 5)
    with dbs.write() as conns:
        fingerprints.outbox_remove(conns.fingerprint, ids[:4])  # ids[4] still waits
    with write_transaction(dbs.fingerprint) as conn:
        assert indexcut.queue_from(conn, ids[2]) == 2  # ids[2], ids[3]; ids[4] already there
    assert _outbox(dbs) == ids[2:]
    with write_transaction(dbs.fingerprint) as conn:
        assert indexcut.queue_from(conn, ids[-1] + 1) == 0


# PostgreSQL only: on SQLite the write transaction is the lock itself (one writer per database).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_hold_writers_blocks_new_fingerprints_until_the_cut_ends(dbs: Databases) -> None:
    assert dbs.fingerprint.dialect.name == "postgresql"
    _add(dbs, 1)
    with write_transaction(dbs.fingerprint) as cut:
        indexcut.hold_writers(cut)
        with dbs.fingerprint.connect() as other:
            other.execute(sa.text("SET lock_timeout = '200ms'"))
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                _insert_on(other)
            other.rollback()
            # Lookups read on: the cut blocks writers only.
            assert other.execute(sa.text("SELECT count(*) FROM fingerprint")).scalar_one() == 1
    _add(dbs, 1)  # after the cut, writes go on


def _insert_on(conn: sa.Connection) -> None:
    track = tracks.insert(conn)
    fingerprints.insert(
        conn, items=ITEMS, length=60, bitrate=None, format_id=None, track_id=track.id
    )
