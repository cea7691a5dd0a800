"""What an `earmark serve` database says was imported: enough to tell "once" from "twice".

Used by bench/stress.py after the crashes. A submission is imported exactly once when:

* its row says ``imported``, and it has one ``submission_result`` and one ``submission_import``
  row (both keyed by the submission id, so never two), and exactly one ``fingerprint_source``,
  ``track_mbid_source`` and ``track_meta_source`` row (these tables have no such key: a
  replayed import would add a second row);
* the counters summed over all rows agree: ``fingerprint.submission_count``,
  ``track_mbid.submission_count`` and ``track_meta.submission_count`` each add up to the
  number of imported submissions carrying that kind of data (an import counted twice shows
  here even when it wrote no second source row);
* a submission that is not imported has none of these rows, nothing is left in the
  ``pending_submission`` queue, and the index outbox is empty (every fingerprint reached the
  index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from earmark.db import tables as t
from earmark.db.engine import Databases

#: The per-submission rows counted, in this order.
SOURCES = ("fingerprint_source", "track_mbid_source", "track_meta_source")
RESULTS = ("submission_result", "submission_import")


@dataclass(frozen=True)
class Ledger:
    statuses: dict[int, str]
    #: per submission: rows in SOURCES then RESULTS
    rows: dict[int, tuple[int, ...]]
    #: per counter (fingerprint, track_mbid, track_meta): the sum of submission_count
    counters: dict[str, int]
    #: per counter: imported submissions carrying that kind of data
    expected: dict[str, int]
    pending_queue: int
    outbox: int

    def imported(self) -> list[int]:
        return [s for s, status in self.statuses.items() if status == "imported"]

    def duplicated(self) -> int:
        """Submissions with a row written more than once."""
        return sum(1 for counts in self.rows.values() if max(counts, default=0) > 1)

    def problems(self) -> list[str]:
        found = []
        imported = set(self.imported())
        once = (1,) * (len(SOURCES) + len(RESULTS))
        missing = [s for s in imported if self.rows.get(s, ()) != once]
        if missing:
            first = missing[0]
            found.append(
                f"{len(missing)} imported submissions without exactly one row each in "
                f"{', '.join(SOURCES + RESULTS)} (e.g. {first}: {self.rows.get(first)})"
            )
        stray = [s for s, counts in self.rows.items() if s not in imported and any(counts)]
        if stray:
            found.append(f"{len(stray)} submissions not imported have import rows")
        for name, total in self.counters.items():
            if total != self.expected[name]:
                found.append(
                    f"sum of {name}.submission_count is {total}, "
                    f"expected {self.expected[name]} (imported submissions with {name} data)"
                )
        if self.pending_queue:
            found.append(f"{self.pending_queue} rows left in pending_submission")
        if self.outbox:
            found.append(f"{self.outbox} fingerprints not delivered to the index (index_outbox)")
        return found


def _per_submission(conn: sa.Connection, table: sa.Table) -> dict[int, int]:
    column = table.c.submission_id
    rows = conn.execute(sa.select(column, sa.func.count()).group_by(column)).all()
    return {int(k): int(n) for k, n in rows if k is not None}


def _sum(conn: sa.Connection, column: sa.Column[Any]) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(column), 0))).scalar_one())


def _count(conn: sa.Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def read_ledger(database_url: str) -> Ledger:
    """The ledger of one database holding the three roles (that of `earmark serve`: the
    server may be running)."""
    dbs = Databases.single(database_url)
    try:
        with dbs.read() as conns:
            ingest, fp = conns.ingest, conns.fingerprint
            sub = t.submission
            statuses = {
                int(i): str(s) for i, s in ingest.execute(sa.select(sub.c.id, sub.c.status))
            }
            per_table = [
                _per_submission(ingest, t.fingerprint_source),
                _per_submission(ingest, t.track_mbid_source),
                _per_submission(ingest, t.track_meta_source),
                _per_submission(ingest, t.submission_result),
                _per_submission(fp, t.submission_import),
            ]
            rows = {s: tuple(table.get(s, 0) for table in per_table) for s in statuses}
            imported = sa.select(sa.func.count()).where(sub.c.status == "imported")
            return Ledger(
                statuses=statuses,
                rows=rows,
                counters={
                    "fingerprint": _sum(fp, t.fingerprint.c.submission_count),
                    "track_mbid": _sum(fp, t.track_mbid.c.submission_count),
                    "track_meta": _sum(fp, t.track_meta.c.submission_count),
                },
                expected={
                    "fingerprint": _count(ingest, imported),
                    "track_mbid": _count(ingest, imported.where(sub.c.mbid.is_not(None))),
                    "track_meta": _count(ingest, imported.where(sub.c.meta.is_not(None))),
                },
                pending_queue=_count(
                    ingest, sa.select(sa.func.count()).select_from(t.pending_submission)
                ),
                outbox=_count(fp, sa.select(sa.func.count()).select_from(t.index_outbox)),
            )
    finally:
        dbs.dispose()
