"""The statistics tables: upserts, the daily figures on a hand-built dataset, the readers."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from earmark.db import stats
from earmark.db.engine import Databases, write_transaction
from earmark.db.tables import account_openid, source, stats_user_agents
from earmark.db.tables import stats as stats_table
from tests.cron import data

DAY = dt.date(2024, 5, 1)


def _two_apps(dbs: Databases) -> tuple[int, int]:
    with write_transaction(dbs.app) as conn:
        owner = data.add_account(conn)
        return data.add_application(conn, owner, "a"), data.add_application(conn, owner, "b")


def test_lookup_upserts_add_and_the_reader_sums_per_date(dbs: Databases) -> None:
    a, b = _two_apps(dbs)
    other_day = DAY + dt.timedelta(days=1)
    with write_transaction(dbs.app) as conn:
        stats.add_lookup_counts(
            conn,
            [stats.LookupCount(a, DAY, 10, hits=1, misses=2), stats.LookupCount(b, DAY, 10, 5)],
        )
        stats.add_lookup_counts(
            conn,
            [
                stats.LookupCount(a, DAY, 10, hits=3),  # same row: added
                stats.LookupCount(a, DAY, 11, misses=1),
                stats.LookupCount(a, other_day, 0, hits=7),
            ],
        )
        stats.add_lookup_counts(conn, [])
    with dbs.app.connect() as conn:
        both = stats.lookup_stats(conn, [a, b], DAY, other_day)
        only_a = stats.lookup_stats(conn, [a], DAY, DAY)
        everyone = stats.lookup_stats(conn, None, other_day, other_day)
        nobody = stats.lookup_stats(conn, [], DAY, other_day)
    assert both == [stats.DailyLookups(DAY, 9, 3), stats.DailyLookups(other_day, 7, 0)]
    assert only_a == [stats.DailyLookups(DAY, 4, 3)]
    assert everyone == [stats.DailyLookups(other_day, 7, 0)]
    assert nobody == []
    assert both[0].to_json() == {
        "date": "2024-05-01",
        "count_hits": 9,
        "count_nohits": 3,
        "count": 12,
    }


def test_user_agent_upserts_add(dbs: Databases) -> None:
    a, _b = _two_apps(dbs)
    for count in (2, 3):
        with write_transaction(dbs.app) as conn:
            stats.add_user_agent_counts(
                conn,
                [
                    stats.UserAgentCount(a, DAY, "beets", "1.1.1.1", count),
                    stats.UserAgentCount(a, DAY, "beets", "2.2.2.2", 1),
                ],
            )
    t = stats_user_agents
    with dbs.app.connect() as conn:
        rows = conn.execute(sa.select(t.c.ip, t.c.count).order_by(t.c.ip)).all()
    assert [tuple(r) for r in rows] == [("1.1.1.1", 5), ("2.2.2.2", 2)]


def test_lookup_window_follows_the_reference() -> None:
    today = dt.date(2024, 5, 31)
    # Without `to`, today (incomplete) is left out; without `from`, the `days` days before.
    assert stats.lookup_window(today) == (dt.date(2024, 5, 2), dt.date(2024, 5, 30))
    assert stats.lookup_window(today, days=7) == (dt.date(2024, 5, 25), dt.date(2024, 5, 30))
    assert stats.lookup_window(today, dt.date(2024, 1, 1), today) == (dt.date(2024, 1, 1), today)


def test_drained_batches_are_recorded_once(dbs: Databases) -> None:
    with write_transaction(dbs.app) as conn:
        assert stats.record_drained_batch(conn, "b1", "lookups")
        assert not stats.record_drained_batch(conn, "b1", "lookups")
        assert stats.record_drained_batch(conn, "b2", "user_agents")


def _build_dataset(dbs: Databases) -> None:
    """Three accounts, two apps, four tracks with links, four submissions (expected figures in
    the test below, counted by hand)."""
    with dbs.write() as conns:
        app_conn = conns.app
        first = data.add_account(app_conn, "first", mbuser="first", submission_count=4)
        second = data.add_account(app_conn, "second", submission_count=6)
        data.add_account(app_conn, "third")
        app1 = data.add_application(app_conn, first)
        data.add_application(app_conn, second)
        app_conn.execute(sa.insert(account_openid).values(openid="a", account_id=second))
        app_conn.execute(sa.insert(account_openid).values(openid="b", account_id=second))
        for account_id in (first, second):
            app_conn.execute(sa.insert(source).values(application_id=app1, account_id=account_id))
        app_conn.execute(
            sa.insert(source).values(application_id=app1, account_id=first, version="2")
        )
        app_conn.execute(sa.text("INSERT INTO format (name) VALUES ('MP3')"))

        fp = conns.fingerprint
        t1, t2, t3, t4 = (data.add_track(fp) for _ in range(4))
        for track_id in (t1, t1, t2):
            data.add_fingerprint(fp, track_id)
        data.add_link(fp, t1, data.mbid(1))
        data.add_link(fp, t1, data.mbid(2))
        data.add_link(fp, t2, data.mbid(1))
        data.add_link(fp, t2, data.mbid(3), disabled=True)
        for n in range(11):
            data.add_link(fp, t4, data.mbid(100 + n))
        del t3  # a track without links

        for status in ("pending", "pending", "pending", "imported"):
            data.add_submission(conns.ingest, status)


def test_update_stats_counts_every_figure(dbs: Databases) -> None:
    _build_dataset(dbs)
    with dbs.write() as conns:
        figures = stats.update_stats(conns, DAY)
    expected = {
        "account.all": 3,
        "account.musicbrainz": 1,
        "account.openid": 1,
        "account.active": 2,
        "application.all": 2,
        "format.all": 1,
        "fingerprint.all": 3,
        "track_mbid.all": 15,
        "mbid.all": 14,
        "track.all": 4,
        "submission.all": 10,
        "submission.unhandled": 3,
        # enabled links per track: t1 2, t2 1, t3 0, t4 11 (counted as "10 or more")
        "track.0mbids": 1,
        "track.1mbids": 1,
        "track.2mbids": 1,
        "track.10mbids": 1,
        # enabled links per MBID: mbid 1 has 2 tracks, mbid 2 and the 11 others 1; mbid 3 none
        "mbid.1tracks": 12,
        "mbid.2tracks": 1,
    }
    assert {k: v for k, v in figures.items() if v} == expected
    buckets = {f"track.{i}mbids" for i in range(11)} | {f"mbid.{i}tracks" for i in range(11)}
    totals = {k for k in expected if not k.startswith(("track.", "mbid."))}
    assert set(figures) == totals | {"track.all", "mbid.all"} | buckets  # zeros stored too
    with dbs.app.connect() as conn:
        assert stats.figures_on(conn, DAY) == figures


def test_update_stats_is_idempotent_per_date(dbs: Databases) -> None:
    _build_dataset(dbs)
    with dbs.write() as conns:
        stats.update_stats(conns, DAY)
        data.add_track(conns.fingerprint)
    with dbs.write() as conns:
        again = stats.update_stats(conns, DAY)
    assert again["track.all"] == 5
    with dbs.app.connect() as conn:
        rows = conn.execute(
            sa.select(stats_table.c.value).where(
                stats_table.c.name == "track.all", stats_table.c.date == DAY
            )
        ).all()
        assert [r.value for r in rows] == [5]
        assert stats.has_figures(conn, DAY)
        assert not stats.has_figures(conn, DAY + dt.timedelta(days=1))


def test_site_stats_for_the_stats_page(dbs: Databases) -> None:
    a, _b = _two_apps(dbs)
    today = dt.date(2024, 5, 10)
    with write_transaction(dbs.app) as conn:
        for offset, tracks, mbids in ((3, 100, 50), (2, 110, 52), (1, 125, 60)):
            day = today - dt.timedelta(days=offset)
            stats.store_figures(conn, day, {"track.all": tracks, "mbid.all": mbids})
        stats.store_figures(
            conn,
            today - dt.timedelta(days=1),
            {
                "submission.all": 900,
                "fingerprint.all": 300,
                "account.active": 7,
                "track.0mbids": 25,
                "track.1mbids": 80,
                "track.10mbids": 20,
                "mbid.1tracks": 40,
                "mbid.3tracks": 20,
            },
        )
        stats.add_lookup_counts(
            conn,
            [
                stats.LookupCount(a, today - dt.timedelta(days=2), 5, hits=4, misses=1),
                stats.LookupCount(a, today, 5, hits=99),  # today: not complete, not shown
            ],
        )
    with dbs.app.connect() as conn:
        site = stats.site_stats(conn, today)
    assert site.date == today - dt.timedelta(days=1)
    assert (site.submissions, site.fingerprints, site.tracks, site.mbids) == (900, 300, 125, 60)
    assert (site.contributors, site.tracks_with_mbid) == (7, 100)
    assert site.track_mbids == [25, 80, 0, 0, 0, 0, 0, 0, 0, 0, 20]
    assert site.mbid_tracks == [0, 40, 0, 20, 0, 0, 0, 0, 0, 0, 0]
    assert site.additions == [
        stats.DailyChange(today - dt.timedelta(days=2), {"mbid.all": 2, "track.all": 10}),
        stats.DailyChange(today - dt.timedelta(days=1), {"mbid.all": 8, "track.all": 15}),
    ]
    assert site.lookups == [stats.DailyLookups(today - dt.timedelta(days=2), 4, 1)]


def test_site_stats_before_any_figures(dbs: Databases) -> None:
    with dbs.app.connect() as conn:
        site = stats.site_stats(conn, DAY)
    assert site.date is None
    assert site.tracks == 0
    assert site.additions == []
    assert site.lookups == []
    assert site.track_mbids == [0] * 11
