"""Draining counters into SQL: exactly once, also across a crash, unknown applications dropped."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.counters import Batch, CounterBackends, Counters
from earmark.counters.drain import drain_lookups, drain_user_agents, forget_old_batches
from earmark.db import stats
from earmark.db.engine import Databases, write_transaction
from earmark.db.tables import stats_drain, stats_lookups, stats_user_agents
from tests.cron import data

AT = dt.datetime(2024, 5, 1, 11, 30, tzinfo=dt.UTC)
DAY = AT.date()


class CrashError(Exception):
    """Stands for the drainer dying at that point."""


class CrashOnRelease(Counters):
    """Wraps a backend; its first release "crashes" (after the SQL commit, before cleanup)."""

    def __init__(self, inner: Counters) -> None:
        self.inner = inner
        self.crashes = 1

    def add(self, lookups: Any, agents: Any) -> bool:
        return self.inner.add(lookups, agents)

    def claim_lookups(self) -> list[Batch[Any]]:
        return self.inner.claim_lookups()

    def claim_user_agents(self) -> list[Batch[Any]]:
        return self.inner.claim_user_agents()

    def release(self, batch: Batch[Any]) -> None:
        if self.crashes:
            self.crashes -= 1
            raise CrashError
        self.inner.release(batch)


def _app(dbs: Databases) -> int:
    with write_transaction(dbs.app) as conn:
        return data.add_application(conn, data.add_account(conn))


def _lookups(dbs: Databases) -> list[tuple[Any, ...]]:
    query = sa.select(
        stats_lookups.c.application_id,
        stats_lookups.c.date,
        stats_lookups.c.hour,
        stats_lookups.c.count_hits,
        stats_lookups.c.count_nohits,
    ).order_by(stats_lookups.c.application_id, stats_lookups.c.hour)
    with dbs.app.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _agents(dbs: Databases) -> list[tuple[Any, ...]]:
    t = stats_user_agents
    query = sa.select(t.c.application_id, t.c.user_agent, t.c.ip, t.c.count).order_by(t.c.ip)
    with dbs.app.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_drain_adds_up_across_runs(dbs: Databases, backends: CounterBackends) -> None:
    app = _app(dbs)
    counters = backends.counters
    counters.count_request(app, hits=2, misses=1, user_agent="ua", ip="1.1.1.1", at=AT)
    counters.count_request(app, hits=1, at=AT + dt.timedelta(hours=1))
    report = drain_lookups(dbs.app, counters)
    # Redis may keep a hit and a miss of one hour in two partitions: two upserts of one row.
    assert report.rows >= 2
    assert report.dropped == 0
    assert report.already_added == 0
    counters.count_request(app, misses=4, user_agent="ua", ip="1.1.1.1", at=AT)
    drain_lookups(dbs.app, counters)
    drain_user_agents(dbs.app, counters)
    assert _lookups(dbs) == [(app, DAY, 11, 2, 5), (app, DAY, 12, 1, 0)]
    assert _agents(dbs) == [(app, "ua", "1.1.1.1", 2)]
    assert drain_lookups(dbs.app, counters).batches == 0


def test_counts_of_unknown_applications_are_dropped(
    dbs: Databases, backends: CounterBackends, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(dbs)
    backends.counters.count_request(app, hits=1, user_agent="ua", ip="ip", at=AT)
    backends.counters.count_request(9999, hits=3, misses=2, user_agent="ua", ip="ip", at=AT)
    with caplog.at_level(logging.WARNING):
        lookups = drain_lookups(dbs.app, backends.counters)
        agents = drain_user_agents(dbs.app, backends.counters)
    assert (lookups.dropped, agents.dropped) == (5, 1)
    assert "lookups counts of unknown application 9999" in caplog.text
    assert "dropping 1 user_agents counts of unknown application 9999" in caplog.text
    assert _lookups(dbs) == [(app, DAY, 11, 1, 0)]
    assert _agents(dbs) == [(app, "ua", "ip", 1)]
    assert drain_lookups(dbs.app, backends.counters).batches == 0  # dropped, not retried


def test_a_crash_after_the_commit_does_not_count_twice(
    dbs: Databases, backends: CounterBackends
) -> None:
    app = _app(dbs)
    crashing = CrashOnRelease(backends.counters)
    crashing.count_request(app, hits=3, user_agent="ua", ip="ip", at=AT)
    with pytest.raises(CrashError):
        drain_lookups(dbs.app, crashing)
    with pytest.raises(CrashError):
        drain_user_agents(dbs.app, CrashOnRelease(backends.counters))
    assert _lookups(dbs) == [(app, DAY, 11, 3, 0)]  # committed before the crash
    assert _agents(dbs) == [(app, "ua", "ip", 1)]
    crashing.count_request(app, hits=1, user_agent="ua", ip="ip", at=AT)  # life goes on
    # The restarted drainer gets the leftover batches back, finds them added and only releases
    # them. (With Redis, a partition holding a leftover gives its fresh counts at the next run.)
    reports = [drain_lookups(dbs.app, backends.counters) for _ in range(2)]
    reports += [drain_user_agents(dbs.app, backends.counters) for _ in range(2)]
    assert sum(r.already_added for r in reports) == 2
    assert _lookups(dbs) == [(app, DAY, 11, 4, 0)]
    assert _agents(dbs) == [(app, "ua", "ip", 2)]
    assert drain_lookups(dbs.app, backends.counters).batches == 0
    assert drain_user_agents(dbs.app, backends.counters).batches == 0


def test_a_failure_before_the_commit_keeps_the_batch(
    dbs: Databases, backends: CounterBackends, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(dbs)
    backends.counters.count_request(app, misses=2, at=AT)

    def broken(conn: Any, counts: Any) -> None:
        raise CrashError

    with monkeypatch.context() as patch:
        patch.setattr(stats, "add_lookup_counts", broken)
        with pytest.raises(CrashError):
            drain_lookups(dbs.app, backends.counters)
    assert _lookups(dbs) == []
    report = drain_lookups(dbs.app, backends.counters)  # the rolled-back batch is retried once
    assert (report.batches, report.already_added) == (1, 0)
    assert _lookups(dbs) == [(app, DAY, 11, 0, 2)]


def test_old_batch_ids_are_forgotten(dbs: Databases) -> None:
    now = dt.datetime.now(dt.UTC)
    with write_transaction(dbs.app) as conn:
        assert stats.record_drained_batch(conn, "old", "lookups")
        assert stats.record_drained_batch(conn, "new", "lookups")
        conn.execute(
            sa.update(stats_drain)
            .where(stats_drain.c.batch_id == "old")
            .values(created=now - dt.timedelta(days=8))
        )
    assert forget_old_batches(dbs.app, now) == 1
    with dbs.app.connect() as conn:
        assert list(conn.scalars(sa.select(stats_drain.c.batch_id))) == ["new"]
