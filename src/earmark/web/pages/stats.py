"""``/stats``: the database's totals and how it grows, from the daily roll-ups (reference §12).

Everything comes from the app database's ``stats`` rows (written by the cron job
``update-stats``, reference §13) and ``stats_lookups`` (the drained lookup counters), through
:func:`earmark.db.stats.site_stats`; the charts are server-side SVG
(:mod:`earmark.web.charts`). The page's data and charts are computed at most once a minute
(the website's small cache): the figures change once a day, the lookups once a minute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from earmark.db import stats
from earmark.db.engine import Connections
from earmark.web.access import services_of
from earmark.web.charts import daily_chart, histogram_chart, last_days
from earmark.web.render import render

_CACHE_KEY = "stats.page"
#: Days shown by the daily charts.
DAYS = 30


@dataclass(frozen=True)
class StatsPage:
    """What the template shows: the figures and the charts (SVG markup built here)."""

    today: dt.date
    figures: stats.SiteStats
    #: Lookups over the charts' days: found a track, found none.
    lookup_hits: int
    lookup_misses: int
    new_tracks_chart: str
    lookups_chart: str
    tracks_per_recording_chart: str
    recordings_per_track_chart: str


def _growth(changes: list[stats.DailyChange], name: str) -> dict[dt.date, float]:
    # A total can shrink (tracks merged): the chart counts additions, so such a day shows 0.
    return {c.date: max(0, c.values[name]) for c in changes if name in c.values}


def build_page(conns: Connections, today: dt.date) -> StatsPage:
    """The figures of ``today`` and their charts (runs in a worker thread)."""
    figures = stats.site_stats(conns.app, today, days=DAYS)
    yesterday = today - dt.timedelta(days=1)  # today's lookups are not all counted yet
    lookups = {day.date: float(day.count) for day in figures.lookups}
    return StatsPage(
        today=today,
        figures=figures,
        lookup_hits=sum(day.count_hits for day in figures.lookups),
        lookup_misses=sum(day.count_nohits for day in figures.lookups),
        new_tracks_chart=daily_chart(
            last_days(_growth(figures.additions, "track.all"), end=today, days=DAYS),
            title=f"New tracks per day, last {DAYS} days",
            unit="tracks",
        ),
        lookups_chart=daily_chart(
            last_days(lookups, end=yesterday, days=DAYS),
            title=f"Lookups per day, last {DAYS} days",
            unit="lookups",
        ),
        tracks_per_recording_chart=histogram_chart(
            figures.mbid_tracks,
            title="Recordings by their number of tracks",
            x_label="tracks linked to the recording",
            unit="recordings",
            top=stats.HISTOGRAM_TOP,
        ),
        recordings_per_track_chart=histogram_chart(
            figures.track_mbids,
            title="Tracks by their number of recordings",
            x_label="recordings linked to the track",
            unit="tracks",
            top=stats.HISTOGRAM_TOP,
        ),
    )


async def stats_page(request: Request) -> Response:
    services = services_of(request)
    today = dt.datetime.now(dt.UTC).date()
    found = services.cache.get(_CACHE_KEY)
    if not isinstance(found, StatsPage) or found.today != today:
        found = await services.read(lambda conns: build_page(conns, today))
        services.cache.put(_CACHE_KEY, found)
    return await render(request, "stats/stats.html", {"page": found})


ROUTES: list[BaseRoute] = [
    Route("/stats", stats_page, methods=["GET", "HEAD"], name="stats"),
]
