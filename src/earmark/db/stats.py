"""Named data functions of the statistics tables (app database), and the daily figures.

- ``stats_lookups`` / ``stats_user_agents``: the drained request counters (upserts that add);
- ``stats_drain``: ids of counter batches already added, so a batch is never added twice;
- ``stats``: one value per (name, date), written by the daily ``update_stats`` job from counts
  over the three roles (reference §13), read by the /stats page (reference §12).

Every function takes the connection of the role whose tables it reads; nothing joins across
roles.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from earmark.db.engine import Connections
from earmark.db.tables import (
    account,
    account_openid,
    application,
    fingerprint,
    format_,
    source,
    stats,
    stats_drain,
    stats_lookups,
    stats_user_agents,
    submission,
    track,
    track_mbid,
)

#: The histograms count 0..9 and "10 or more" (reference §13).
HISTOGRAM_TOP = 10


@dataclass(frozen=True, slots=True)
class LookupCount:
    application_id: int
    date: dt.date
    hour: int
    hits: int = 0
    misses: int = 0


@dataclass(frozen=True, slots=True)
class UserAgentCount:
    application_id: int
    date: dt.date
    user_agent: str
    ip: str
    count: int


@dataclass(frozen=True, slots=True)
class DailyLookups:
    """Lookups of one day, summed over the applications asked for (reference §5.7)."""

    date: dt.date
    count_hits: int
    count_nohits: int

    @property
    def count(self) -> int:
        return self.count_hits + self.count_nohits

    def to_json(self) -> dict[str, Any]:
        """The ``lookup_stats`` item: ``{"date", "count_hits", "count_nohits", "count"}``."""
        return {
            "date": self.date.isoformat(),
            "count_hits": self.count_hits,
            "count_nohits": self.count_nohits,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class DailyChange:
    """How much some figures grew on one day (the /stats "daily additions")."""

    date: dt.date
    values: dict[str, int]


@dataclass(frozen=True)
class SiteStats:
    """What the /stats page shows (reference §12)."""

    date: dt.date | None
    submissions: int
    fingerprints: int
    tracks: int
    mbids: int
    contributors: int
    tracks_with_mbid: int
    #: ``track_mbids[i]``: AcoustIDs with i enabled recordings (i = 10: 10 or more).
    track_mbids: list[int] = field(default_factory=list)
    #: ``mbid_tracks[i]``: recordings linked to i AcoustIDs (i = 10: 10 or more).
    mbid_tracks: list[int] = field(default_factory=list)
    additions: list[DailyChange] = field(default_factory=list)
    lookups: list[DailyLookups] = field(default_factory=list)


def _insert(conn: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take ON CONFLICT (PostgreSQL, and SQLite >= 3.24)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- counters -------------------------------------------------------------------------------


def known_applications(conn: Connection, application_ids: Iterable[int]) -> set[int]:
    """Which of ``application_ids`` exist (counts of others would violate the foreign key)."""
    ids = sorted(set(application_ids))
    if not ids:
        return set()
    query = sa.select(application.c.id).where(application.c.id.in_(ids))
    return set(conn.scalars(query))


def add_lookup_counts(conn: Connection, counts: Sequence[LookupCount]) -> None:
    """Add hits and misses to ``stats_lookups``, creating rows as needed.

    ``counts`` must hold each (application, date, hour) once (merge them first): PostgreSQL
    refuses to update one row twice in a statement.
    """
    if not counts:
        return
    stmt = _insert(conn, stats_lookups)
    stmt = stmt.on_conflict_do_update(
        index_elements=["application_id", "date", "hour"],
        set_={
            "count_hits": stats_lookups.c.count_hits + stmt.excluded.count_hits,
            "count_nohits": stats_lookups.c.count_nohits + stmt.excluded.count_nohits,
        },
    )
    rows = [
        {
            "application_id": c.application_id,
            "date": c.date,
            "hour": c.hour,
            "count_hits": c.hits,
            "count_nohits": c.misses,
        }
        for c in counts
    ]
    conn.execute(stmt, rows)


def add_user_agent_counts(conn: Connection, counts: Sequence[UserAgentCount]) -> None:
    """Add request counts to ``stats_user_agents`` (each key once, as for lookups)."""
    if not counts:
        return
    stmt = _insert(conn, stats_user_agents)
    stmt = stmt.on_conflict_do_update(
        index_elements=["application_id", "date", "user_agent", "ip"],
        set_={"count": stats_user_agents.c.count + stmt.excluded["count"]},
    )
    rows = [
        {
            "application_id": c.application_id,
            "date": c.date,
            "user_agent": c.user_agent,
            "ip": c.ip,
            "count": c.count,
        }
        for c in counts
    ]
    conn.execute(stmt, rows)


def record_drained_batch(conn: Connection, batch_id: str, kind: str) -> bool:
    """Note that a counter batch is being added; False if it was added before.

    Call it in the transaction that adds the batch: both commit or neither does. On PostgreSQL a
    second drainer adding the same batch at the same time waits here for the first one's
    commit, then gets False.
    """
    stmt = _insert(conn, stats_drain).values(batch_id=batch_id, kind=kind)
    stmt = stmt.on_conflict_do_nothing(index_elements=["batch_id"])
    # RETURNING, not rowcount: drivers disagree on rowcount after ON CONFLICT DO NOTHING.
    return conn.execute(stmt.returning(stats_drain.c.batch_id)).first() is not None


def forget_drained_batches(conn: Connection, before: dt.datetime) -> int:
    """Drop batch ids recorded before ``before``; returns how many."""
    result = conn.execute(sa.delete(stats_drain).where(stats_drain.c.created < before))
    return result.rowcount


# --- lookup statistics ----------------------------------------------------------------------


def lookup_window(
    today: dt.date,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
    days: int = 30,
) -> tuple[dt.date, dt.date]:
    """The dates ``lookup_stats`` covers by default (reference §5.7).

    Without ``to_date`` the window ends yesterday (today is not complete); without
    ``from_date`` it holds the ``days`` days before today.
    """
    last = to_date if to_date is not None else today - dt.timedelta(days=1)
    first = from_date if from_date is not None else today - dt.timedelta(days=days - 1)
    return first, last


def lookup_stats(
    conn: Connection,
    application_ids: Sequence[int] | None,
    from_date: dt.date,
    to_date: dt.date,
) -> list[DailyLookups]:
    """Hits and misses per date in [from_date, to_date], summed over ``application_ids``.

    ``None`` sums over every application (the /stats page); an empty sequence matches none.
    Dates without lookups are left out, as in the reference.
    """
    query = (
        sa.select(
            stats_lookups.c.date,
            sa.func.sum(stats_lookups.c.count_hits),
            sa.func.sum(stats_lookups.c.count_nohits),
        )
        .where(stats_lookups.c.date.between(from_date, to_date))
        .group_by(stats_lookups.c.date)
        .order_by(stats_lookups.c.date)
    )
    if application_ids is not None:
        if not application_ids:
            return []
        query = query.where(stats_lookups.c.application_id.in_(sorted(set(application_ids))))
    return [DailyLookups(day, int(hits), int(misses)) for day, hits, misses in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class ApplicationLookups:
    """Lookups of one application over a period (the admin page's monthly hits and misses)."""

    application_id: int
    hits: int
    misses: int

    @property
    def count(self) -> int:
        return self.hits + self.misses


def lookups_by_application(
    conn: Connection, from_date: dt.date, to_date: dt.date
) -> dict[int, ApplicationLookups]:
    """Hits and misses in [from_date, to_date] per application that had any (reference §12,
    ``/admin/stats/apps?month=``). One grouped scan of the dates' rows (``date`` is indexed)."""
    query = (
        sa.select(
            stats_lookups.c.application_id,
            sa.func.sum(stats_lookups.c.count_hits),
            sa.func.sum(stats_lookups.c.count_nohits),
        )
        .where(stats_lookups.c.date.between(from_date, to_date))
        .group_by(stats_lookups.c.application_id)
    )
    return {
        int(app_id): ApplicationLookups(int(app_id), int(hits), int(misses))
        for app_id, hits, misses in conn.execute(query)
    }


# --- the daily figures ----------------------------------------------------------------------


def _count(conn: Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar() or 0)


def _histogram(conn: Connection, query: sa.Select[Any], prefix: str, suffix: str) -> dict[str, int]:
    buckets = dict.fromkeys(range(HISTOGRAM_TOP + 1), 0)
    for size, number in conn.execute(query):
        buckets[min(int(size), HISTOGRAM_TOP)] += int(number)
    return {f"{prefix}{size}{suffix}": number for size, number in buckets.items()}


def _app_figures(conn: Connection) -> dict[str, int]:
    count = sa.func.count
    return {
        "account.all": _count(conn, sa.select(count()).select_from(account)),
        "account.musicbrainz": _count(
            conn, sa.select(count()).select_from(account).where(account.c.mbuser.is_not(None))
        ),
        "account.openid": _count(conn, sa.select(count(account_openid.c.account_id.distinct()))),
        "account.active": _count(conn, sa.select(count(source.c.account_id.distinct()))),
        "application.all": _count(conn, sa.select(count()).select_from(application)),
        "format.all": _count(conn, sa.select(count()).select_from(format_)),
        "submission.all": _count(conn, sa.select(sa.func.sum(account.c.submission_count))),
    }


def _fingerprint_figures(conn: Connection) -> dict[str, int]:
    count = sa.func.count
    figures = {
        "fingerprint.all": _count(conn, sa.select(count()).select_from(fingerprint)),
        "track_mbid.all": _count(conn, sa.select(count()).select_from(track_mbid)),
        "mbid.all": _count(conn, sa.select(count(track_mbid.c.mbid.distinct()))),
        "track.all": _count(conn, sa.select(count()).select_from(track)),
    }
    # Tracks per MBID and MBIDs per track count enabled links only (reference §13).
    per_mbid = (
        sa.select(count(track_mbid.c.track_id).label("size"))
        .where(track_mbid.c.disabled.is_(sa.false()))
        .group_by(track_mbid.c.mbid)
        .subquery()
    )
    figures |= _histogram(
        conn,
        sa.select(per_mbid.c.size, count()).group_by(per_mbid.c.size),
        "mbid.",
        "tracks",
    )
    enabled = sa.and_(track.c.id == track_mbid.c.track_id, track_mbid.c.disabled.is_(sa.false()))
    per_track = (
        sa.select(count(track_mbid.c.mbid).label("size"))
        .select_from(track.outerjoin(track_mbid, enabled))
        .group_by(track.c.id)
        .subquery()
    )
    figures |= _histogram(
        conn,
        sa.select(per_track.c.size, count()).group_by(per_track.c.size),
        "track.",
        "mbids",
    )
    return figures


def _ingest_figures(conn: Connection) -> dict[str, int]:
    pending = sa.select(sa.func.count()).where(submission.c.status == "pending")
    return {"submission.unhandled": _count(conn, pending)}


def collect_figures(conns: Connections) -> dict[str, int]:
    """Every daily figure of reference §13, each counted on its own role's connection."""
    return (
        _app_figures(conns.app)
        | _fingerprint_figures(conns.fingerprint)
        | _ingest_figures(conns.ingest)
    )


def store_figures(conn: Connection, on: dt.date, figures: Mapping[str, int]) -> None:
    """Write ``figures`` for date ``on``, replacing values stored for that date before."""
    if not figures:
        return
    stmt = _insert(conn, stats)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name", "date"], set_={"value": stmt.excluded.value}
    )
    conn.execute(stmt, [{"name": n, "date": on, "value": v} for n, v in sorted(figures.items())])


def update_stats(conns: Connections, on: dt.date) -> dict[str, int]:
    """The daily job: count the figures and store them for ``on`` (idempotent per date)."""
    figures = collect_figures(conns)
    store_figures(conns.app, on, figures)
    return figures


def has_figures(conn: Connection, on: dt.date) -> bool:
    query = sa.select(sa.func.count()).select_from(stats).where(stats.c.date == on)
    return _count(conn, query) > 0


def figures_on(conn: Connection, on: dt.date) -> dict[str, int]:
    rows = conn.execute(sa.select(stats.c.name, stats.c.value).where(stats.c.date == on))
    return {name: int(value) for name, value in rows}


def latest_figures(conn: Connection) -> tuple[dt.date | None, dict[str, int]]:
    """The figures of the newest date that has any, and that date (None: no figures yet)."""
    newest = conn.execute(sa.select(sa.func.max(stats.c.date))).scalar()
    if newest is None:
        return None, {}
    return newest, figures_on(conn, newest)


def daily_changes(
    conn: Connection, names: Sequence[str], from_date: dt.date, to_date: dt.date
) -> list[DailyChange]:
    """Per date in [from_date, to_date], how much each figure grew since the previous row.

    The previous row is the newest earlier one of that figure, looked for from the day before
    ``from_date`` on; a figure without one is left out of that date.
    """
    query = (
        sa.select(stats.c.date, stats.c.name, stats.c.value)
        .where(stats.c.name.in_(list(names)))
        .where(stats.c.date.between(from_date - dt.timedelta(days=1), to_date))
        .order_by(stats.c.date, stats.c.name)
    )
    previous: dict[str, int] = {}
    by_date: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for day, name, value in conn.execute(query):
        if name in previous and day >= from_date:
            by_date[day][name] = int(value) - previous[name]
        previous[name] = int(value)
    return [DailyChange(day, values) for day, values in sorted(by_date.items())]


def site_stats(conn: Connection, today: dt.date, days: int = 30) -> SiteStats:
    """Everything the /stats page shows, from the app database alone."""
    date, figures = latest_figures(conn)
    tracks = figures.get("track.all", 0)
    first, last = lookup_window(today, days=days)
    return SiteStats(
        date=date,
        submissions=figures.get("submission.all", 0),
        fingerprints=figures.get("fingerprint.all", 0),
        tracks=tracks,
        mbids=figures.get("mbid.all", 0),
        contributors=figures.get("account.active", 0),
        tracks_with_mbid=tracks - figures.get("track.0mbids", 0),
        track_mbids=[figures.get(f"track.{i}mbids", 0) for i in range(HISTOGRAM_TOP + 1)],
        mbid_tracks=[figures.get(f"mbid.{i}tracks", 0) for i in range(HISTOGRAM_TOP + 1)],
        additions=daily_changes(
            conn, ("track.all", "mbid.all"), today - dt.timedelta(days=days - 1), today
        ),
        lookups=lookup_stats(conn, None, first, last),
    )
