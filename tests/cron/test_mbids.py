"""MBID maintenance: merges (the disabled-flag table), the outbox, the 7-day rule, the sweep."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from earmark.counters import MemoryMissingMbids
from earmark.cron.mbids import MbidMaintenance
from earmark.db import mbids, migrate
from earmark.db.engine import Databases, write_transaction
from earmark.db.tables import account, mbid_unknown, track_mbid_change, track_mbid_source
from earmark.importer import locks
from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.cron import data, mb
from tests.db import queries
from tests.services import PostgresDatabases, SqliteDatabases

OLD, NEW, UNKNOWN, KNOWN = data.mbid(1), data.mbid(2), data.mbid(3), data.mbid(4)
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def _sources_of(conn: sa.Connection, link_id: int) -> list[int]:
    query = sa.select(track_mbid_source.c.id).where(track_mbid_source.c.track_mbid_id == link_id)
    return sorted(conn.scalars(query))


def _changes(conn: sa.Connection) -> list[tuple[int, int, bool, str | None]]:
    c = track_mbid_change.c
    query = sa.select(c.track_mbid_id, c.account_id, c.disabled, c.note).order_by(c.id)
    return [tuple(row) for row in conn.execute(query)]


# (source disabled, target disabled or None when the track has no link to the new MBID,
#  expected: target disabled) — the target stays disabled only if both links were.
MERGES = [
    (False, False, False),
    (True, False, False),
    (False, True, False),
    (True, True, True),
    (False, None, False),
    (True, None, True),
]


@pytest.mark.parametrize(("source_disabled", "target_disabled", "expected"), MERGES)
def test_merge_decision_table(
    dbs: Databases, source_disabled: bool, target_disabled: bool | None, expected: bool
) -> None:
    with dbs.write() as conns:
        track = data.add_track(conns.fingerprint)
        other = data.add_track(conns.fingerprint)
        src = data.add_link(conns.fingerprint, track, OLD, count=3, disabled=source_disabled)
        untouched = data.add_link(conns.fingerprint, other, NEW, count=9)
        tgt = None
        if target_disabled is not None:
            tgt = data.add_link(conns.fingerprint, track, NEW, count=5, disabled=target_disabled)
        moved = [data.add_link_source(conns.ingest, src) for _ in range(2)]
        kept = data.add_link_source(conns.ingest, untouched)
        data.add_link_change(conns.ingest, src, 42, "a moderator's note")
    with dbs.write() as conns:
        entries = mbids.merge_mbid(conns, OLD, NEW)
    with dbs.read() as conns:
        (source_row,) = data.links_of(conns.fingerprint, OLD)
        target_row = next(r for r in data.links_of(conns.fingerprint, NEW) if r.track_id == track)
        assert tgt is None or target_row.id == tgt
        assert (source_row.disabled, source_row.submission_count) == (True, 0)
        assert source_row.merged_into == target_row.id
        assert target_row.disabled is expected
        assert target_row.submission_count == 3 + (0 if tgt is None else 5)
        assert data.link(conns.fingerprint, untouched).submission_count == 9
        assert _sources_of(conns.ingest, target_row.id) == moved
        assert _sources_of(conns.ingest, untouched) == [kept]
        assert _changes(conns.ingest) == [(target_row.id, 42, False, "a moderator's note")]
    assert [(e.kind, e.track_mbid_id, e.target_id) for e in entries] == [
        ("repoint", src, target_row.id)
    ]
    with dbs.write() as conns:  # merged links are left alone the second time
        assert mbids.merge_mbid(conns, OLD, NEW) == []
        assert mbids.merge_mbid(conns, NEW, NEW) == []


@pytest.fixture
def split_dbs(sqlite_databases: SqliteDatabases) -> Iterator[Databases]:
    """The three roles in three SQLite files: nothing commits across them atomically."""
    urls = {
        role: sqlite_databases.create(migrated=False) for role in ("app", "fingerprint", "ingest")
    }
    databases = Databases(urls)  # type: ignore[arg-type]
    migrate.upgrade(databases)
    yield databases
    databases.dispose()


def test_a_merge_cut_short_between_the_databases_is_finished(
    split_dbs: Databases, mirror: MusicBrainzDatabase
) -> None:
    dbs = split_dbs
    with dbs.write() as conns:
        track = data.add_track(conns.fingerprint)
        src = data.add_link(conns.fingerprint, track, OLD, count=2)
        source_ids = [data.add_link_source(conns.ingest, src) for _ in range(3)]
    # The fingerprint database commits; the process dies before the ingest side.
    with write_transaction(dbs.fingerprint) as conn:
        (entry,) = mbids.merge_track_mbids(conn, OLD, NEW)
    with dbs.read() as conns:
        assert _sources_of(conns.ingest, src) == source_ids
        assert mbids.pending_outbox(conns.fingerprint) == [entry]
    maintenance = MbidMaintenance(dbs, mirror)
    assert maintenance.finish_outbox() == 1
    with dbs.read() as conns:
        assert _sources_of(conns.ingest, entry.target_id or 0) == source_ids
        assert mbids.pending_outbox(conns.fingerprint) == []
    assert maintenance.finish_outbox() == 0


def test_replaying_a_disable_writes_its_note_once(dbs: Databases) -> None:
    with dbs.write() as conns:
        link_id = data.add_link(conns.fingerprint, data.add_track(conns.fingerprint), UNKNOWN)
    with dbs.write() as conns:
        entries = mbids.disable_links(conns, UNKNOWN)
    with dbs.write() as conns:  # as after a crash before the outbox was cleared
        mbids.apply_outbox(conns.ingest, entries)
        bot = mbids.bot_account_id(conns.app)
    with dbs.read() as conns:
        assert _changes(conns.ingest) == [(link_id, bot, True, mbids.UNKNOWN_NOTE)]
        assert data.link(conns.fingerprint, link_id).disabled


def test_the_bot_account_is_created_once_and_never_a_person(dbs: Databases) -> None:
    with write_transaction(dbs.app) as conn:
        data.add_account(conn, mbids.BOT_ACCOUNT, mbuser="acoustid_bot")  # a person's account
        bot = mbids.bot_account_id(conn)
        assert mbids.bot_account_id(conn) == bot
        rows = conn.execute(
            sa.select(account.c.id, account.c.mbuser).where(account.c.name == mbids.BOT_ACCOUNT)
        ).all()
    assert sorted(tuple(r) for r in rows) == [(bot - 1, "acoustid_bot"), (bot, None)]


def _link(dbs: Databases, mbid: str, count: int = 1) -> int:
    with write_transaction(dbs.fingerprint) as conn:
        return data.add_link(conn, data.add_track(conn), mbid, count=count)


def test_check_merges_redirects_and_keeps_known_mbids(
    dbs: Databases, mirror: MusicBrainzDatabase
) -> None:
    mb.add_redirect(mirror, OLD, NEW)
    mb.add_recording(mirror, KNOWN)
    mb.set_replication_date(mirror, T0)
    old_link, known_link = _link(dbs, OLD, 4), _link(dbs, KNOWN)
    report = MbidMaintenance(dbs, mirror).check([OLD.upper(), KNOWN, "not-an-mbid"])
    assert (report.checked, report.merged, report.known, report.unknown) == (2, 1, 1, 0)
    assert report.invalid == 1
    with dbs.read() as conns:
        assert data.link(conns.fingerprint, old_link).merged_into is not None
        (new_link,) = data.links_of(conns.fingerprint, NEW)
        assert new_link.submission_count == 4
        assert not data.link(conns.fingerprint, known_link).disabled
        assert mbids.pending_outbox(conns.fingerprint) == []


def test_the_seven_day_rule_runs_on_the_mirrors_clock(
    dbs: Databases, mirror: MusicBrainzDatabase
) -> None:
    links = [_link(dbs, UNKNOWN), _link(dbs, UNKNOWN)]
    maintenance = MbidMaintenance(dbs, mirror)
    mb.set_replication_date(mirror, T0)
    assert maintenance.check([UNKNOWN]).unknown == 1
    with dbs.read() as conns:
        assert queries.unknown_since(conns.fingerprint, [UNKNOWN]) == {UNKNOWN: T0}
    # The mirror replicates for almost a week: nothing happens yet (also not on re-checks).
    mb.set_replication_date(mirror, T0 + dt.timedelta(days=7, seconds=-1))
    assert maintenance.check([UNKNOWN]).disabled == 0
    assert maintenance.recheck_due().checked == 0
    with dbs.read() as conns:
        assert not any(data.link(conns.fingerprint, i).disabled for i in links)
        assert queries.unknown_since(conns.fingerprint, [UNKNOWN]) == {UNKNOWN: T0}
    mb.set_replication_date(mirror, T0 + dt.timedelta(days=7))
    report = maintenance.recheck_due()
    assert (report.checked, report.disabled) == (1, 2)
    with dbs.read() as conns:
        assert all(data.link(conns.fingerprint, i).disabled for i in links)
        bot = mbids.bot_account_id(conns.app)
        assert _changes(conns.ingest) == [(i, bot, True, mbids.UNKNOWN_NOTE) for i in links]
        assert queries.unknown_since(conns.fingerprint, [UNKNOWN]) == {}
        assert mbids.pending_outbox(conns.fingerprint) == []
    assert maintenance.check([UNKNOWN]).disabled == 0  # nothing left enabled


def test_an_mbid_that_reappears_stops_its_clock(
    dbs: Databases, mirror: MusicBrainzDatabase
) -> None:
    link_id = _link(dbs, UNKNOWN)
    maintenance = MbidMaintenance(dbs, mirror)
    mb.set_replication_date(mirror, T0)
    maintenance.check([UNKNOWN])
    mb.add_recording(mirror, UNKNOWN)  # replication brought it in after all
    mb.set_replication_date(mirror, T0 + dt.timedelta(days=30))
    assert maintenance.check([UNKNOWN]).known == 1
    with dbs.read() as conns:
        assert queries.unknown_since(conns.fingerprint, [UNKNOWN]) == {}
        assert not data.link(conns.fingerprint, link_id).disabled


def test_without_a_replication_clock_unknown_mbids_are_not_timed(
    dbs: Databases, mirror: MusicBrainzDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    _link(dbs, UNKNOWN)
    maintenance = MbidMaintenance(dbs, mirror)
    assert maintenance.check([UNKNOWN]).unknown == 1
    assert maintenance.recheck_due().checked == 0
    with dbs.read() as conns:
        assert (
            conns.fingerprint.execute(sa.select(sa.func.count()).select_from(mbid_unknown)).scalar()
            == 0
        )
    assert "no replication date" in caplog.text


def test_the_sweep_resumes_where_it_stopped_and_starts_over(
    dbs: Databases, mirror: MusicBrainzDatabase
) -> None:
    mb.set_replication_date(mirror, T0)
    mb.add_redirect(mirror, data.mbid(13), NEW)
    for n in range(10, 15):
        _link(dbs, data.mbid(n))
    with write_transaction(dbs.fingerprint) as conn:  # a disabled link is not swept
        data.add_link(conn, data.add_track(conn), data.mbid(20), disabled=True)
    maintenance = MbidMaintenance(dbs, mirror)
    first = maintenance.sweep(batch_size=2, max_batches=2)
    assert (first.checked, first.merged) == (4, 1)
    with dbs.app.connect() as conn:
        assert mbids.load_sweep_cursor(conn) == data.mbid(13)
    second = maintenance.sweep(batch_size=2, max_batches=2)
    assert second.checked == 1  # mbid 14; then the end: the cursor resets
    with dbs.app.connect() as conn:
        assert mbids.load_sweep_cursor(conn) is None
    with dbs.read() as conns:
        assert set(queries.unknown_since(conns.fingerprint, [data.mbid(n) for n in range(21)])) == {
            data.mbid(n) for n in (10, 11, 12, 14)
        }
    third = maintenance.sweep(batch_size=10, max_batches=5)
    assert third.checked == 5  # 10, 11, 12, 14 and the new MBID; 13 is merged away


def test_reported_mbids_are_checked(dbs: Databases, mirror: MusicBrainzDatabase) -> None:
    mb.add_redirect(mirror, OLD, NEW)
    _link(dbs, OLD)
    reports = MemoryMissingMbids()
    reports.report([OLD, OLD.upper()])
    report = MbidMaintenance(dbs, mirror).check_reported(reports, batch_size=1)
    assert (report.checked, report.merged) == (1, 1)
    assert reports.take(10) == []


def test_an_mbid_an_importer_holds_is_left_for_later(
    pg_databases: PostgresDatabases, mirror: MusicBrainzDatabase
) -> None:
    dbs = Databases.single(pg_databases.create())
    try:
        mb.add_redirect(mirror, OLD, NEW)
        link_id = _link(dbs, OLD)
        reports = MemoryMissingMbids()
        reports.report([OLD])
        with dbs.fingerprint.connect() as importer, importer.begin():
            assert locks.try_lock(importer, locks.mbid_key(uuid.UUID(NEW)))
            report = MbidMaintenance(dbs, mirror).check_reported(reports)
        assert (report.merged, report.busy) == (0, [OLD])
        assert reports.take(10) == [OLD]  # reported again for the next run
        with dbs.fingerprint.connect() as conn:
            assert data.link(conn, link_id).merged_into is None
        assert MbidMaintenance(dbs, mirror).check([OLD]).merged == 1  # the lock is gone
    finally:
        dbs.dispose()


def test_mirror_readiness(mirror: MusicBrainzDatabase, dbs: Databases, tmp_path: object) -> None:
    assert MbidMaintenance(dbs, mirror).mirror_ready()
    empty = MusicBrainzDatabase.from_url(f"sqlite:///{tmp_path}/empty.db")
    try:
        assert not MbidMaintenance(dbs, empty).mirror_ready()
    finally:
        empty.dispose()
