"""The in-memory clip index: every stored item, and for each term the positions holding it.

Memory (12 bytes per stored item, see docs/clip-identification.md): the items themselves
(uint32, for verification), and two postings per item (uint32 global positions, one per term
family) sorted by term in a compressed-sparse-row layout whose directory has one entry per term
(8 MiB whatever the size). Entries (one per stored fingerprint) are an int64 id and an int64
start each. Items added since the last rebuild sit in a small sorted *delta* that is re-sorted
on each addition; once it passes a quarter of the base the whole index is rebuilt (amortised
O(log n) per item). Positions are uint32: at most 2**32 items (~150 000 hours of audio).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.clipindex.terms import TERM_SPACE, TERMS_PER_ITEM, item_terms

UInt32Array = npt.NDArray[np.uint32]
Int64Array = npt.NDArray[np.int64]

#: The delta is folded into the base once it holds this many items, or a quarter of the base.
_DELTA_MIN: Final = 1 << 20
#: A term held by more positions than this says nothing (silence, hum): it does not vote.
MAX_POSTINGS: Final = 50_000
_MAX_ITEMS: Final = (1 << 32) - 1


@dataclass(frozen=True)
class Votes:
    """Raw votes of a query: for each hit, the stored global position and the query position."""

    positions: Int64Array
    query_positions: Int64Array


class _Postings:
    """Positions sorted by term: ``directory[t]:directory[t+1]`` slices ``positions``."""

    def __init__(self, terms: UInt32Array, positions: UInt32Array) -> None:
        order = np.argsort(terms, kind="stable")
        self.positions: UInt32Array = positions[order]
        counts = np.bincount(terms, minlength=TERM_SPACE)
        directory = np.zeros(
            TERM_SPACE + 1, dtype=np.uint32 if terms.size < _MAX_ITEMS else np.int64
        )
        np.cumsum(counts, out=directory[1:])
        self.directory = directory

    def lookup(self, terms: UInt32Array) -> tuple[Int64Array, Int64Array]:
        starts = self.directory[terms].astype(np.int64)
        ends = self.directory[terms + 1].astype(np.int64)
        return starts, ends

    @property
    def nbytes(self) -> int:
        return int(self.positions.nbytes + self.directory.nbytes)


class _SortedDelta:
    """The recent positions as sorted (term, position) pairs, searched with ``searchsorted``."""

    def __init__(self, terms: UInt32Array, positions: UInt32Array) -> None:
        order = np.argsort(terms, kind="stable")
        self.terms: UInt32Array = terms[order]
        self.positions: UInt32Array = positions[order]

    def lookup(self, terms: UInt32Array) -> tuple[Int64Array, Int64Array]:
        starts = np.searchsorted(self.terms, terms, side="left").astype(np.int64)
        ends = np.searchsorted(self.terms, terms, side="right").astype(np.int64)
        return starts, ends


def _gather(
    positions: UInt32Array, starts: Int64Array, ends: Int64Array, query_positions: Int64Array
) -> tuple[Int64Array, Int64Array]:
    """Every position of the slices ``starts[i]:ends[i]``, each with its ``query_positions[i]``;
    slices longer than :data:`MAX_POSTINGS` are left out (one vectorised gather, no loop)."""
    lengths = ends - starts
    keep = (lengths > 0) & (lengths <= MAX_POSTINGS)
    starts, lengths, query_positions = starts[keep], lengths[keep], query_positions[keep]
    total = int(lengths.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    first = np.cumsum(lengths) - lengths
    index = np.arange(total, dtype=np.int64) + np.repeat(starts - first, lengths)
    return positions[index].astype(np.int64), np.repeat(query_positions, lengths)


class ClipPostings:
    """Stored fingerprints (entries) and their postings; thread-safe (one lock for writers,
    readers work on a consistent tuple of arrays taken under it)."""

    def __init__(self, delta_min: int = _DELTA_MIN) -> None:
        self._delta_min = delta_min
        self._lock = threading.Lock()
        self._items: UInt32Array = np.zeros(1024, dtype=np.uint32)
        self._size = 0
        self._ids: list[int] = []
        self._starts: list[int] = []
        self._id_array: Int64Array = np.zeros(0, dtype=np.int64)
        self._start_array: Int64Array = np.zeros(1, dtype=np.int64)
        self._base = _Postings(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))
        self._base_size = 0
        self._delta = _SortedDelta(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))

    # --- writes ------------------------------------------------------------------------------

    def add_many(self, entries: Iterable[tuple[int, npt.NDArray[np.uint32]]]) -> int:
        """Store each (entry id, items); returns how many entries were added."""
        added = 0
        with self._lock:
            for entry_id, items in entries:
                self._append(entry_id, np.asarray(items, dtype=np.uint32))
                added += 1
            if added:
                self._reindex()
        return added

    def _append(self, entry_id: int, items: UInt32Array) -> None:
        end = self._size + items.size
        if end > _MAX_ITEMS:
            raise OverflowError("the clip index holds at most 2**32 items")
        if end > self._items.size:
            # Grow by a quarter: at most ~1 spare byte per stored item.
            grown = np.zeros(max(end, self._items.size + self._items.size // 4), dtype=np.uint32)
            grown[: self._size] = self._items[: self._size]
            self._items = grown
        self._items[self._size : end] = items
        self._ids.append(entry_id)
        self._starts.append(self._size)
        self._size = end

    def _reindex(self) -> None:
        self._id_array = np.asarray(self._ids, dtype=np.int64)
        self._start_array = np.asarray([*self._starts, self._size], dtype=np.int64)
        delta_items = self._size - self._base_size
        if delta_items > max(self._delta_min, self._base_size // 4):
            self._base = _Postings(*self._terms_of(0, self._size))
            self._base_size = self._size
            delta_items = 0
        self._delta = _SortedDelta(*self._terms_of(self._base_size, self._size))

    def _terms_of(self, start: int, end: int) -> tuple[UInt32Array, UInt32Array]:
        high, low = item_terms(self._items[start:end])
        positions = np.arange(start, end, dtype=np.uint32)
        return np.concatenate([high, low]), np.concatenate([positions, positions])

    # --- reads -------------------------------------------------------------------------------

    def snapshot(self) -> ClipSnapshot:
        """A consistent read-only view (later additions do not show in it)."""
        with self._lock:
            return ClipSnapshot(
                items=self._items[: self._size],
                ids=self._id_array,
                starts=self._start_array,
                base=self._base,
                delta=self._delta,
            )

    @property
    def entry_count(self) -> int:
        return len(self._ids)

    @property
    def last_id(self) -> int:
        """The largest entry id stored (0 when empty)."""
        return int(self._id_array.max()) if self._id_array.size else 0

    @property
    def item_count(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the items' array counts its spare capacity)."""
        delta = self._delta.terms.nbytes + self._delta.positions.nbytes
        return int(self._items.nbytes + self._base.nbytes + delta + 16 * len(self._ids))

    @property
    def bytes_per_item(self) -> float:
        """Memory per stored item, leaving out the term directory's fixed 8 MiB."""
        fixed = self._base.directory.nbytes
        return (self.nbytes - fixed) / max(self._size, 1)


@dataclass(frozen=True)
class ClipSnapshot:
    items: UInt32Array
    ids: Int64Array
    #: ``starts[e]:starts[e+1]`` are entry ``e``'s items (one more element than ``ids``).
    starts: Int64Array
    base: _Postings
    delta: _SortedDelta

    def votes(self, terms: UInt32Array, query_positions: Int64Array) -> Votes:
        """The stored positions holding each term, paired with the term's query position."""
        parts = [
            _gather(self.base.positions, *self.base.lookup(terms), query_positions),
            _gather(self.delta.positions, *self.delta.lookup(terms), query_positions),
        ]
        return Votes(
            positions=np.concatenate([p for p, _ in parts]),
            query_positions=np.concatenate([q for _, q in parts]),
        )

    def entry_of(self, positions: Int64Array) -> Int64Array:
        """The entry index of each global position."""
        return np.searchsorted(self.starts, positions, side="right").astype(np.int64) - 1

    def entry_index(self, entry_id: int) -> int | None:
        """The index of the entry stored under ``entry_id`` (the latest such), or None."""
        where = np.flatnonzero(self.ids == entry_id)
        return int(where[-1]) if where.size else None

    def entry_items(self, entry: int) -> UInt32Array:
        return self.items[int(self.starts[entry]) : int(self.starts[entry + 1])]


__all__ = ["TERMS_PER_ITEM", "ClipPostings", "ClipSnapshot", "Votes"]
