"""Draining counters into the statistics tables, exactly once per batch.

For each claimed batch, one app-database transaction records the batch id
(:func:`earmark.db.stats.record_drained_batch`) and adds the counts; the batch is released only
after that commit. A crash in between leaves the batch with the backend, which returns it with
the same id at the next claim; its id is then found recorded and it is released without being
added again. Counts of applications that do not exist are dropped with a log line, as in the
reference (whose upsert failed on the foreign key).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from earmark.counters.base import Batch, Counters, LookupKey, UserAgentKey, utc_now
from earmark.db import stats
from earmark.db.engine import write_transaction

logger = logging.getLogger(__name__)

#: Batch ids are kept this long; a batch left over longer than this could be added twice.
#: Leftovers are re-drained by the next run (a minute or an hour later), so a week is ample.
KEEP_BATCH_IDS = dt.timedelta(days=7)


@dataclass
class DrainReport:
    batches: int = 0
    #: Batches found already added (left over by a drainer that stopped before releasing).
    already_added: int = 0
    rows: int = 0
    #: Counts dropped because their application does not exist.
    dropped: int = 0


def _lookup_rows(counts: dict[LookupKey, int]) -> list[stats.LookupCount]:
    merged: dict[tuple[int, dt.date, int], list[int]] = {}
    for key, count in counts.items():
        if count <= 0:
            continue
        slot = merged.setdefault((key.application_id, key.date, key.hour), [0, 0])
        slot[0 if key.hit else 1] += count
    return [
        stats.LookupCount(app, day, hour, hits, misses)
        for (app, day, hour), (hits, misses) in sorted(merged.items())
    ]


def _user_agent_rows(counts: dict[UserAgentKey, int]) -> list[stats.UserAgentCount]:
    merged: Counter[UserAgentKey] = Counter()
    for key, count in counts.items():
        if count > 0:
            merged[key] += count
    return [
        stats.UserAgentCount(k.application_id, k.date, k.user_agent, k.ip, n)
        for k, n in sorted(merged.items())
    ]


def _drain(
    engine: Engine,
    batches: list[Batch[Any]],
    release: Callable[[Batch[Any]], None],
    to_rows: Callable[[Any], list[Any]],
    add: Callable[[Connection, list[Any]], None],
) -> DrainReport:
    report = DrainReport()
    for batch in batches:
        report.batches += 1
        with write_transaction(engine) as conn:
            if not stats.record_drained_batch(conn, batch.id, batch.kind):
                report.already_added += 1
            else:
                rows = to_rows(batch.counts)
                known = stats.known_applications(conn, (r.application_id for r in rows))
                kept = [r for r in rows if r.application_id in known]
                for app in sorted({r.application_id for r in rows} - known):
                    lost = sum(_total(r) for r in rows if r.application_id == app)
                    logger.warning(
                        "dropping %d %s counts of unknown application %d", lost, batch.kind, app
                    )
                    report.dropped += lost
                add(conn, kept)
                report.rows += len(kept)
        release(batch)
    return report


def _total(row: stats.LookupCount | stats.UserAgentCount) -> int:
    if isinstance(row, stats.LookupCount):
        return row.hits + row.misses
    return row.count


def drain_lookups(engine: Engine, counters: Counters) -> DrainReport:
    """Move the lookup counters into ``stats_lookups`` (``engine``: the app database)."""
    report = _drain(
        engine, counters.claim_lookups(), counters.release, _lookup_rows, stats.add_lookup_counts
    )
    _log("lookup", report)
    return report


def drain_user_agents(engine: Engine, counters: Counters) -> DrainReport:
    """Move the user-agent counters into ``stats_user_agents``."""
    report = _drain(
        engine,
        counters.claim_user_agents(),
        counters.release,
        _user_agent_rows,
        stats.add_user_agent_counts,
    )
    _log("user-agent", report)
    return report


def forget_old_batches(engine: Engine, now: dt.datetime | None = None) -> int:
    """Drop batch ids older than :data:`KEEP_BATCH_IDS` (run after a drain, never before)."""
    with write_transaction(engine) as conn:
        return stats.forget_drained_batches(conn, (now or utc_now()) - KEEP_BATCH_IDS)


def _log(what: str, report: DrainReport) -> None:
    if report.batches:
        logger.info(
            "drained %d %s batches (%d rows, %d already added, %d counts dropped)",
            report.batches,
            what,
            report.rows,
            report.already_added,
            report.dropped,
        )
