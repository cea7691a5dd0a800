"""The clip index as a service: kept up to date from the fingerprint table, answering with
tracks (docs/clip-identification.md).

Every stored fingerprint becomes an entry of the clip index under its fingerprint id, in id
order; :meth:`ClipService.catch_up` reads the fingerprints above the last stored id, so new
submissions become searchable without a rebuild, at most ``sync_interval`` seconds after the
importer wrote them (a search first catches up when the last catch-up is older than that).
Answers are resolved through the fingerprint table at search time, so a fingerprint moved to
another track by a merge answers with its current track, and a deleted one not at all.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.clipindex.index import ClipIndex
from earmark.clipindex.terms import seconds, span_seconds
from earmark.db import fingerprints
from earmark.db.engine import read_connection
from earmark.db.links import MbidLink

log = logging.getLogger(__name__)

#: What makes a clip search fail for now: the fingerprint database cannot be reached or answer
#: in time (the catch-up and the answer's track lookup read it).
OUTAGES: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
)

#: Fingerprints read per statement while catching up.
CATCH_UP_BATCH = 2000


@dataclass(frozen=True)
class ClipResult:
    """One identified part of a clip."""

    track_id: int
    track_gid: uuid.UUID
    fingerprint_id: int
    #: Bit agreement of the aligned span (0.5 is chance, 1.0 identical).
    score: float
    #: Where the matched part starts inside the track, in seconds.
    offset: float
    #: Where the matched part starts inside the clip, in seconds.
    position: float
    #: Seconds of audio matched.
    duration: float
    links: list[MbidLink] | None = None


class ClipService:
    """A :class:`ClipIndex` following the fingerprint database ``engine``."""

    def __init__(self, index: ClipIndex, engine: sa.Engine, sync_interval: float = 1.0) -> None:
        self.index = index
        self.engine = engine
        self.sync_interval = sync_interval
        self._lock = threading.Lock()
        self._synced_at = -float("inf")

    def catch_up(self) -> int:
        """Store every fingerprint not stored yet; returns how many were added."""
        added = 0
        with self._lock:
            while True:
                with read_connection(self.engine) as conn:
                    batch = fingerprints.after(conn, self.index.last_id, CATCH_UP_BATCH)
                if not batch:
                    break
                self.index.add([(fid, items.view(np.uint32)) for fid, items in batch])
                added += len(batch)
            self._synced_at = time.monotonic()
        if added:
            stats = self.index.stats()
            log.info(
                "clip index: %d fingerprints added; %d stored, %d items, %.1f MB in memory "
                "(%.1f bytes per item), %.1f MB on disk",
                added,
                stats.entries,
                stats.items,
                stats.memory_bytes / 1e6,
                stats.bytes_per_item,
                stats.disk_bytes / 1e6,
            )
        return added

    def maybe_catch_up(self) -> None:
        if time.monotonic() - self._synced_at >= self.sync_interval:
            self.catch_up()

    def identify(
        self, conn: Connection, items: npt.NDArray[np.uint32], *, with_links: bool = False
    ) -> list[ClipResult]:
        """The tracks the clip's parts come from, in clip order (empty: no match)."""
        self.maybe_catch_up()
        found = self.index.identify(items)
        if not found:
            return []
        stored = fingerprints.get_many(
            conn, sorted({s.entry_id for s in found}), with_links=with_links
        )
        by_id = {f.id: f for f in stored}
        results = []
        for segment in found:
            fingerprint = by_id.get(segment.entry_id)
            if fingerprint is None:  # deleted since it was stored
                continue
            results.append(
                ClipResult(
                    track_id=fingerprint.track_id,
                    track_gid=fingerprint.track_gid,
                    fingerprint_id=fingerprint.id,
                    score=round(segment.agreement, 4),
                    offset=round(seconds(segment.entry_start), 2),
                    position=round(seconds(segment.query_start), 2),
                    duration=round(span_seconds(segment.query_end - segment.query_start), 2),
                    links=fingerprint.links,
                )
            )
        return results
