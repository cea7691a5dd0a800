"""What played when: a long recording (or a clip spanning two tracks) cut into overlapping
windows, each window searched alone, consecutive windows that agree merged into segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.clipindex.postings import ClipSnapshot
from earmark.clipindex.search import (
    MIN_QUERY_ITEMS,
    NEIGHBOURS,
    agreement_at,
    find,
    threshold,
)

#: 64 items (10.5 s of audio) per window, a new window every 32 items (4 s).
WINDOW: Final = 64
HOP: Final = 32
#: Windows whose placements differ by at most this many items belong to one segment.
DRIFT: Final = 4


@dataclass(frozen=True)
class ClipSegment:
    """Query items ``query_start:query_end`` are entry ``entry_id``'s items from ``entry_start``."""

    entry_id: int
    entry_start: int
    query_start: int
    query_end: int
    agreement: float
    windows: int


def window_starts(size: int) -> list[int]:
    """Starts of the windows covering ``size`` items (the last one ends at the end)."""
    if size <= WINDOW:
        return [0] if size >= MIN_QUERY_ITEMS else []
    starts = list(range(0, size - WINDOW + 1, HOP))
    if starts[-1] + WINDOW < size:
        starts.append(size - WINDOW)
    return starts


def segments(snapshot: ClipSnapshot, items: npt.NDArray[np.uint32]) -> list[ClipSegment]:
    """The segments of ``items`` that match something, in query order."""
    items = np.asarray(items, dtype=np.uint32)
    found: list[ClipSegment] = []
    for start in window_starts(items.size):
        window = items[start : start + WINDOW]
        last = found[-1] if found else None
        # Music repeats: a window that still fits where the last segment goes continues it,
        # even if another repetition of the passage scores a little higher.
        here = _continuing(snapshot, window, start, last) if last is not None else None
        if here is None:
            matches = find(snapshot, window, limit=4)
            if not matches:
                continue
            best = matches[0]
            here = ClipSegment(
                entry_id=best.entry_id,
                entry_start=best.entry_start,
                query_start=start + best.query_start,
                query_end=start + best.query_end,
                agreement=best.agreement,
                windows=1,
            )
        if last is not None and _continues(last, here):
            found[-1] = _merge(last, here)
        else:
            found.append(here)
    return _trim(found)


def _continuing(
    snapshot: ClipSnapshot, window: npt.NDArray[np.uint32], start: int, last: ClipSegment
) -> ClipSegment | None:
    """The window placed where ``last`` leads, when it is a match there."""
    if start > last.query_end + HOP:
        return None
    entry = snapshot.entry_index(last.entry_id)
    if entry is None:
        return None
    stored = snapshot.entry_items(entry)
    origin = last.entry_start - last.query_start + start
    best = max(
        (*agreement_at(stored, window, origin + shift), origin + shift)
        for shift in range(-NEIGHBOURS, NEIGHBOURS + 1)
    )
    agreement, begin, end, offset = best
    if end - begin < MIN_QUERY_ITEMS or agreement < threshold(end - begin):
        return None
    return ClipSegment(last.entry_id, offset + begin, start + begin, start + end, agreement, 1)


def _continues(last: ClipSegment, here: ClipSegment) -> bool:
    if last.entry_id != here.entry_id or here.query_start > last.query_end + HOP:
        return False
    last_origin = last.entry_start - last.query_start
    here_origin = here.entry_start - here.query_start
    return abs(last_origin - here_origin) <= DRIFT * last.windows


def _merge(last: ClipSegment, here: ClipSegment) -> ClipSegment:
    windows = last.windows + here.windows
    return ClipSegment(
        entry_id=last.entry_id,
        entry_start=last.entry_start,
        query_start=last.query_start,
        query_end=max(last.query_end, here.query_end),
        agreement=(last.agreement * last.windows + here.agreement) / windows,
        windows=windows,
    )


def _trim(found: list[ClipSegment]) -> list[ClipSegment]:
    """Overlapping neighbours (a window straddling a change of track) meet half-way."""
    out: list[ClipSegment] = []
    for segment in found:
        if out and out[-1].query_end > segment.query_start:
            previous = out[-1]
            middle = (segment.query_start + previous.query_end) // 2
            out[-1] = ClipSegment(
                previous.entry_id,
                previous.entry_start,
                previous.query_start,
                middle,
                previous.agreement,
                previous.windows,
            )
            cut = middle - segment.query_start
            segment = ClipSegment(
                segment.entry_id,
                segment.entry_start + cut,
                middle,
                segment.query_end,
                segment.agreement,
                segment.windows,
            )
        out.append(segment)
    return out
