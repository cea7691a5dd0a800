"""The clip index: the append-only file (:mod:`.store`) and the in-memory postings
(:mod:`.postings`) kept together, and the one question asked of them
(:meth:`ClipIndex.identify`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from earmark.clipindex.postings import ClipPostings
from earmark.clipindex.search import find
from earmark.clipindex.segments import WINDOW, ClipSegment, segments
from earmark.clipindex.store import MAX_ENTRY_ITEMS, ClipLog, Entry


@dataclass(frozen=True)
class ClipStats:
    entries: int
    items: int
    memory_bytes: int
    disk_bytes: int
    #: Memory per stored item, leaving out the term directory's fixed 8 MiB.
    bytes_per_item: float


class ClipIndex:
    """A clip index stored at ``path`` (loaded at construction)."""

    def __init__(self, path: Path) -> None:
        self.log = ClipLog(path)
        self.postings = ClipPostings()
        try:
            self.postings.add_many(self.log.load())
        except BaseException:
            self.log.close()
            raise

    def add(self, entries: list[Entry]) -> None:
        """Store entries: on disk (fsynced) first, then searchable. Entries longer than
        :data:`~earmark.clipindex.store.MAX_ENTRY_ITEMS` keep their first items only."""
        entries = [(entry_id, items[:MAX_ENTRY_ITEMS]) for entry_id, items in entries]
        self.log.append(entries)
        self.postings.add_many(entries)

    def close(self) -> None:
        self.log.close()

    @property
    def last_id(self) -> int:
        return self.postings.last_id

    def stats(self) -> ClipStats:
        return ClipStats(
            entries=self.postings.entry_count,
            items=self.postings.item_count,
            memory_bytes=self.postings.nbytes,
            disk_bytes=self.log.size_bytes,
            bytes_per_item=self.postings.bytes_per_item,
        )

    def identify(self, items: npt.NDArray[np.uint32]) -> list[ClipSegment]:
        """Where the clip's items come from: one segment for a clip from one track, several
        (in clip order) when it spans tracks; empty when nothing matches.

        A clip longer than two windows is also walked window by window; when that finds more
        than one segment the segments are the answer, otherwise the whole clip's best match
        (the longer the aligned span, the surer the verification).
        """
        snapshot = self.postings.snapshot()
        whole = find(snapshot, items)
        if items.size > 2 * WINDOW:
            walked = segments(snapshot, items)
            if len(walked) > 1 or (walked and not whole):
                return walked
        if not whole:
            return []
        best = whole[0]
        return [
            ClipSegment(
                entry_id=best.entry_id,
                entry_start=best.entry_start,
                query_start=best.query_start,
                query_end=best.query_end,
                agreement=best.agreement,
                windows=1,
            )
        ]
