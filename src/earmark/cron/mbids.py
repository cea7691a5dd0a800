"""MBID maintenance (reference §10, with fixes): merge redirected MBIDs, time unknown ones.

For each MBID checked against the MusicBrainz mirror:

- merged into another recording (``recording_gid_redirect``): every link is merged into the
  new MBID (:func:`earmark.db.mbids.merge_mbid`), one transaction per MBID;
- still a recording: nothing to do (a running unknown-clock is stopped);
- unknown: its clock starts at the mirror's replication time; once 7 days of *replication*
  time have passed, every link to it is disabled with a change note by ``acoustid_bot``. A
  mirror that stopped replicating stops the clock, so an outage never disables anything. A
  mirror without a replication clock (an imported dump that does not replicate) never starts
  one: there an unknown MBID may just be one the dump does not have.

MBIDs come from the lookup path's reports (:class:`earmark.counters.MissingMbids`), from a
sweep over every MBID with an enabled link (a durable cursor, a bounded number per run), and
from re-checking the MBIDs whose clock is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.counters.reports import MissingMbids
from earmark.db import mbids
from earmark.db.engine import Databases, read_connection, write_transaction
from earmark.importer import locks
from earmark.musicbrainz.redirects import (
    existing_recordings,
    last_replication_date,
    resolve_redirects,
)
from earmark.musicbrainz.schema import MusicBrainzDatabase

logger = logging.getLogger(__name__)

UNKNOWN_AFTER = dt.timedelta(days=7)


@dataclass
class MbidReport:
    checked: int = 0
    merged: int = 0
    known: int = 0
    unknown: int = 0
    #: Links disabled by the 7-day rule.
    disabled: int = 0
    invalid: int = 0
    #: MBIDs left for a later run because an importer held their lock.
    busy: list[str] = field(default_factory=list)

    def add(self, other: MbidReport) -> None:
        for name in ("checked", "merged", "known", "unknown", "disabled", "invalid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.busy += other.busy

    def summary(self) -> str:
        return (
            f"{self.checked} checked: {self.merged} merged, {self.known} known, "
            f"{self.unknown} unknown, {self.disabled} links disabled, {self.invalid} invalid, "
            f"{len(self.busy)} busy"
        )


def _locked(conn: Connection, *mbids_: str) -> bool:
    """Take the importer's MBID locks (PostgreSQL) so that no import links these meanwhile."""
    return all(locks.try_lock(conn, locks.mbid_key(uuid.UUID(m))) for m in sorted(mbids_))


class MbidMaintenance:
    """Checks MBIDs against ``mirror`` and updates Earmark's links in ``dbs``."""

    def __init__(
        self,
        dbs: Databases,
        mirror: MusicBrainzDatabase,
        *,
        unknown_after: dt.timedelta = UNKNOWN_AFTER,
    ) -> None:
        self.dbs = dbs
        self.mirror = mirror
        self.unknown_after = unknown_after
        self._warned_no_clock = False

    def mirror_ready(self) -> bool:
        """True when the mirror has its recording tables (an empty SQLite file has none)."""
        schema = None if self.mirror.engine.dialect.name == "sqlite" else self.mirror.schema_name
        with read_connection(self.mirror.engine) as conn:
            return sa.inspect(conn).has_table("recording_gid_redirect", schema=schema)

    def finish_outbox(self) -> int:
        """Apply and clear what merges and disables left for the ingest side; returns how many."""
        done = 0
        while True:
            with read_connection(self.dbs.fingerprint) as conn:
                entries = mbids.pending_outbox(conn)
            if not entries:
                return done
            with write_transaction(self.dbs.ingest) as conn:
                mbids.apply_outbox(conn, entries)
            self._clear(entries)
            done += len(entries)

    def _clear(self, entries: list[mbids.OutboxEntry]) -> None:
        if entries:
            with write_transaction(self.dbs.fingerprint) as conn:
                mbids.clear_outbox(conn, (e.id for e in entries))

    def check(self, candidates: Iterable[str]) -> MbidReport:
        """Check one batch of MBIDs (see the module docstring)."""
        report = MbidReport()
        batch: list[str] = []
        for candidate in candidates:
            try:
                batch.append(str(mbids.parse_mbid(candidate)))
            except ValueError:
                logger.warning("ignoring %r: not an MBID", candidate)
                report.invalid += 1
        batch = sorted(set(batch))
        if not batch:
            return report
        report.checked = len(batch)
        with self.mirror.read() as mb:
            redirects = resolve_redirects(mb, batch)
            rest = [m for m in batch if m not in redirects]
            existing = existing_recordings(mb, rest) if rest else set()
            mb_now = last_replication_date(mb)
        unknown = [m for m in rest if m not in existing]
        report.known, report.unknown = len(existing), len(unknown)
        for old, new in sorted(redirects.items()):
            if self._merge(old, new):
                report.merged += 1
            else:
                report.busy.append(old)
        if existing:
            with write_transaction(self.dbs.fingerprint) as conn:
                mbids.forget_unknown(conn, existing)
        if unknown:
            self._time_unknown(unknown, mb_now, report)
        return report

    def _merge(self, old: str, new: str) -> bool:
        """Merge ``old`` into ``new``; False when an importer holds one of their locks."""
        with self.dbs.write() as conns:
            if not _locked(conns.fingerprint, old, new):
                return False
            entries = mbids.merge_mbid(conns, old, new)
            mbids.forget_unknown(conns.fingerprint, [old])
        self._clear(entries)
        if entries:
            logger.info("merged %d links of MBID %s into %s", len(entries), old, new)
        return True

    def _time_unknown(
        self, unknown: list[str], mb_now: dt.datetime | None, report: MbidReport
    ) -> None:
        if mb_now is None:
            if not self._warned_no_clock:
                self._warned_no_clock = True
                logger.warning(
                    "the MusicBrainz mirror has no replication date: unknown MBIDs are not "
                    "timed and their links are never disabled"
                )
            return
        with write_transaction(self.dbs.fingerprint) as conn:
            started = {m: mbids.mark_unknown(conn, m, mb_now) for m in unknown}
        for mbid, since in sorted(started.items()):
            if mb_now - since < self.unknown_after:
                continue
            with self.dbs.write() as conns:
                if not _locked(conns.fingerprint, mbid):
                    report.busy.append(mbid)
                    continue
                entries = mbids.disable_links(conns, mbid)
                mbids.forget_unknown(conns.fingerprint, [mbid])
            self._clear(entries)
            logger.info(
                "disabled %d links of MBID %s, unknown to MusicBrainz since %s",
                len(entries),
                mbid,
                since.isoformat(),
            )
            report.disabled += len(entries)

    def check_reported(
        self, reports: MissingMbids, batch_size: int = 1000, max_batches: int = 10
    ) -> MbidReport:
        """Check the MBIDs the lookup path reported missing (at most ``max_batches`` batches)."""
        report = MbidReport()
        for _ in range(max_batches):
            taken = reports.take(batch_size)
            if not taken:
                break
            try:
                checked = self.check(taken)
            except Exception:
                reports.report(taken)  # keep them for the next run
                raise
            report.add(checked)
            if checked.busy:
                reports.report(checked.busy)
                break  # an importer is at them now; the next run takes them again
        return report

    def recheck_due(self, limit: int = 1000) -> MbidReport:
        """Re-check MBIDs whose unknown-clock has run :attr:`unknown_after`."""
        with self.mirror.read() as mb:
            mb_now = last_replication_date(mb)
        if mb_now is None:
            return MbidReport()
        with read_connection(self.dbs.fingerprint) as conn:
            due = mbids.unknown_before(conn, mb_now - self.unknown_after, limit)
        return self.check(due)

    def sweep(self, batch_size: int = 1000, max_batches: int = 10) -> MbidReport:
        """Check the next ``max_batches`` batches of linked MBIDs, resuming where it stopped."""
        report = MbidReport()
        with read_connection(self.dbs.app) as conn:
            cursor = mbids.load_sweep_cursor(conn)
        for _ in range(max_batches):
            with read_connection(self.dbs.fingerprint) as conn:
                batch = mbids.linked_mbids(conn, cursor, batch_size)
            report.add(self.check(batch))
            cursor = batch[-1] if len(batch) == batch_size else None
            with write_transaction(self.dbs.app) as conn:
                mbids.save_sweep_cursor(conn, cursor)
            if cursor is None:
                logger.info("the MBID sweep reached the last MBID; it starts over next time")
                break
        return report
