"""``earmark_open_data_*``: how far the open data imports have got (docs/open-data.md).

Per provenance and stream, the end of the last day applied (a Unix time) and the lag behind
now; a scrape reads the handful of ``opendata_progress`` rows. When the database does not
answer, ``earmark_open_data_up 0`` alone is exposed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from earmark.db import opendata
from earmark.db.engine import Databases, read_connection

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OpenDataCollector(Collector):
    def __init__(self, dbs: Databases, clock: Callable[[], dt.datetime] = _now) -> None:
        self.dbs = dbs
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return self._families([], up=True)

    def collect(self) -> Iterable[Metric]:
        try:
            with read_connection(self.dbs.fingerprint) as conn:
                rows = opendata.all_progress(conn)
        except Exception as exc:  # a scrape must not fail because one source did
            log.warning("metrics: cannot read the open data progress (%s)", type(exc).__name__)
            return self._families([], up=False)[:1]
        return self._families(rows, up=True)

    def _families(self, rows: list[tuple[str, str, dt.date]], *, up: bool) -> list[Metric]:
        up_family = GaugeMetricFamily(
            "earmark_open_data_up", "1 when the open data progress could be read, else 0."
        )
        up_family.add_metric([], 1.0 if up else 0.0)
        last = GaugeMetricFamily(
            "earmark_open_data_last_day_end_timestamp_seconds",
            "End (UTC midnight after it) of the last day applied, per provenance and stream.",
            labels=["provenance", "stream"],
        )
        lag = GaugeMetricFamily(
            "earmark_open_data_lag_seconds",
            "Time since the end of the last day applied, per provenance and stream.",
            labels=["provenance", "stream"],
        )
        now = self.clock()
        for provenance, stream, day in rows:
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
            last.add_metric([provenance, stream], end.timestamp())
            lag.add_metric([provenance, stream], max(0.0, (now - end).total_seconds()))
        return [up_family, last, lag]
