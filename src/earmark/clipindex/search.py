"""Find where a clip's items sit in the clip index: vote, verify, decide (and walk segments).

1. **Vote.** Every query item's two terms look up the stored positions holding them; a hit at
   stored position ``p`` for query position ``i`` votes for (entry, offset ``p - start - i``).
   Votes of neighbouring offsets are pooled (±1 item) so that a tempo drift or an excerpt cut
   between two hops keeps its votes together.
2. **Verify.** The best-voted candidates (at most :data:`CANDIDATES` entries) are compared bit
   by bit with the query at the voted offset and :data:`NEIGHBOURS` items either side; the
   agreement is the share of equal bits over the aligned span.
3. **Decide.** A candidate is a match when its agreement reaches :func:`threshold` for the
   length of the aligned span (measured, docs/clip-identification.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.compare import popcount
from earmark.clipindex.postings import ClipSnapshot
from earmark.clipindex.terms import item_terms, neighbour_terms, query_mask

UInt32Array = npt.NDArray[np.uint32]

#: Entries verified per query (the best-voted ones).
CANDIDATES: Final = 8
#: Offsets tried either side of the voted one.
NEIGHBOURS: Final = 3
#: A candidate needs this many pooled votes to be verified.
MIN_VOTES: Final = 2
#: The shortest clip searched: 16 items are about 4.6 s of audio.
MIN_QUERY_ITEMS: Final = 16
#: A clip whose items take fewer distinct values than this is silence or a constant tone.
MIN_DISTINCT_ITEMS: Final = 8
#: The decision rule (docs/clip-identification.md "Threshold"): unrelated music agrees on
#: ~0.63 of bits at its best offset with ~3.5 % spread per 30 s, so short spans need a margin
#: that grows as 1/sqrt(items).
THRESHOLD_FLOOR: Final = 0.71
THRESHOLD_SPREAD: Final = 0.55


def threshold(span_items: int) -> float:
    """The bit agreement a span of ``span_items`` aligned items needs to count as a match."""
    return THRESHOLD_FLOOR + THRESHOLD_SPREAD / math.sqrt(max(span_items, 1))


@dataclass(frozen=True)
class ClipMatch:
    """One verified placement of (part of) the query inside a stored entry."""

    entry_id: int
    #: Offset of query item 0 inside the entry, in items (negative: the query starts earlier).
    offset: int
    #: The query items ``query_start:query_end`` are the aligned span.
    query_start: int
    query_end: int
    agreement: float
    votes: int

    @property
    def span(self) -> int:
        """Aligned items."""
        return self.query_end - self.query_start

    @property
    def entry_start(self) -> int:
        """Where the aligned span starts inside the entry, in items."""
        return self.offset + self.query_start


def unsearchable_reason(items: UInt32Array) -> str | None:
    """Why a clip cannot be searched (too short, or silence), or None."""
    if items.size < MIN_QUERY_ITEMS:
        return (
            f"the clip is too short: {items.size} fingerprint items, clips need at least "
            f"{MIN_QUERY_ITEMS} (about 4.6 s of audio)"
        )
    distinct = int(np.unique(items[query_mask(items)]).size)
    if distinct < MIN_DISTINCT_ITEMS:
        return (
            f"the clip is silence or a constant sound ({distinct} distinct non-silent "
            f"fingerprint items): it would match every silent passage, so it is not searched"
        )
    return None


def find(snapshot: ClipSnapshot, items: UInt32Array, limit: int = CANDIDATES) -> list[ClipMatch]:
    """Verified matches of the whole query, best first (at most one per entry).

    A query that finds nothing is asked again with every term's one-bit neighbours too (21
    times the postings): a pitch or speed change flips more bits than a codec does, and then
    few terms survive whole.
    """
    found = [m for m in candidates(snapshot, items, limit) if m.agreement >= threshold(m.span)]
    if found:
        return found
    wider = candidates(snapshot, items, limit, wide=True)
    return [m for m in wider if m.agreement >= threshold(m.span)]


def candidates(
    snapshot: ClipSnapshot, items: UInt32Array, limit: int = CANDIDATES, *, wide: bool = False
) -> list[ClipMatch]:
    """The best-voted placements with their bit agreement, best first, before the decision
    (the evaluation harness measures the threshold on these)."""
    items = np.asarray(items, dtype=np.uint32)
    if items.size == 0 or snapshot.ids.size == 0:
        return []
    voted = _candidates(snapshot, items, limit, wide)
    found = [_verify(snapshot, items, entry, offset, votes) for entry, offset, votes in voted]
    matches = [m for m in found if m is not None]
    matches.sort(key=lambda m: (-m.agreement, -m.votes))
    return matches


def _candidates(
    snapshot: ClipSnapshot, items: UInt32Array, limit: int, wide: bool
) -> list[tuple[int, int, int]]:
    """(entry index, offset, pooled votes) of the best-voted offsets, one per entry."""
    positions = np.flatnonzero(query_mask(items)).astype(np.int64)
    first, second = item_terms(items[positions])
    terms = np.concatenate([first, second])
    term_positions = np.concatenate([positions, positions])
    if wide:
        probes, origin = neighbour_terms(terms)
        terms = np.concatenate([terms, probes])
        term_positions = np.concatenate([term_positions, term_positions[origin]])
    votes = snapshot.votes(terms, term_positions)
    if votes.positions.size == 0:
        return []
    entries = snapshot.entry_of(votes.positions)
    offsets = votes.positions - snapshot.starts[entries] - votes.query_positions
    # One key per (entry, offset); offsets may be negative (a clip starting before the entry).
    keys = (entries << 32) + (offsets + (1 << 31))
    unique, counts = np.unique(keys, return_counts=True)
    pooled = counts.copy()
    for shift in (-1, 1):
        where = np.searchsorted(unique, unique + shift)
        where = np.minimum(where, unique.size - 1)
        pooled += np.where(unique[where] == unique + shift, counts[where], 0)
    order = np.argsort(-pooled, kind="stable")
    chosen: list[tuple[int, int, int]] = []
    seen: set[int] = set()
    for index in order[: limit * 16]:
        if pooled[index] < MIN_VOTES:
            break
        entry = int(unique[index] >> 32)
        if entry in seen:
            continue
        seen.add(entry)
        chosen.append((entry, int(unique[index] & 0xFFFFFFFF) - (1 << 31), int(pooled[index])))
        if len(chosen) == limit:
            break
    return chosen


def agreement_at(stored: UInt32Array, query: UInt32Array, offset: int) -> tuple[float, int, int]:
    """Bit agreement of ``query`` placed at ``offset`` in ``stored`` over their overlap, with
    the overlap's query range (0.0 and an empty range when they do not overlap)."""
    start = max(0, -offset)
    end = min(query.size, stored.size - offset)
    if end <= start:
        return 0.0, 0, 0
    differing = popcount(np.bitwise_xor(query[start:end], stored[start + offset : end + offset]))
    return 1.0 - float(differing.sum(dtype=np.int64)) / (32.0 * (end - start)), start, end


def _verify(
    snapshot: ClipSnapshot, items: UInt32Array, entry: int, offset: int, votes: int
) -> ClipMatch | None:
    stored = snapshot.entry_items(entry)
    best: tuple[float, int, int, int] | None = None
    for candidate in range(offset - NEIGHBOURS, offset + NEIGHBOURS + 1):
        agreement, start, end = agreement_at(stored, items, candidate)
        if end - start < min(MIN_QUERY_ITEMS, items.size):
            continue
        if best is None or agreement > best[0]:
            best = (agreement, candidate, start, end)
    if best is None:
        return None
    agreement, best_offset, start, end = best
    return ClipMatch(
        entry_id=int(snapshot.ids[entry]),
        offset=best_offset,
        query_start=start,
        query_end=end,
        agreement=agreement,
        votes=votes,
    )
