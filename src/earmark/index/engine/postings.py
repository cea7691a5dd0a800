"""The (term, doc) postings of a segment as held in RAM, and the lookup of query terms.

Postings are sorted by term then doc; repeats are kept (a document that stores a term twice
scores twice for it, spec §2.4). Two layouts:

- `SortedColumns`: two parallel u32 columns, looked up with `searchsorted` — for small
  segments (memory segments of a few commits), which fit in cache;
- `PackedPostings`: for large segments, 4 bytes per posting plus a small bucket table
  instead of 9. The top bits of a term pick a bucket (a direct-mapped term directory:
  `starts[b]` is the first posting of bucket `b`, at most `BUCKET_FILL` on average); a
  posting keeps only what its bucket does not say, the term's low bits, with the doc id
  minus the segment's smallest id below them, in one integer: `low << doc_bits | doc - base`.
  Within a bucket these integers sort like the (term, doc) pairs, so a term's postings are a
  contiguous run found by comparing integers. Doc ids below 2^(bucket bits) make it a u32;
  a segment with a wider doc range packs into u64 (8 bytes, still no separate term column).

Lookups are vectorised over all query terms: one bucket-table read per term, then a fixed
window of `WINDOW` postings read contiguously and compared; buckets larger than the window
(very common terms, dense regions of the term space) get a `WIDE` window, and the rare ones
larger still are bisected, all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from earmark.index.engine.types import U32Array, U64Array

I64Array = npt.NDArray[np.int64]
#: Segments with more postings than this are packed; smaller ones fit in cache as they are.
SMALL_SEGMENT = 1 << 16
#: Postings per bucket: between half this and this on average (the table takes 0.5-1 byte per
#: posting). 16 saved 0.3 byte per posting but made lookups in large segments 30 % slower: a
#: sixth of the query terms then fell in buckets larger than the window.
BUCKET_FILL = 8
WINDOW = 32
WIDE = 256  # the window for buckets larger than WINDOW; larger ones still are bisected
_LANES = np.arange(WINDOW, dtype=np.int64)
_WIDE = np.arange(WIDE, dtype=np.int64)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_EMPTY_U32: U32Array = np.zeros(0, dtype=np.uint32)


@dataclass(frozen=True, eq=False)
class SortedColumns:
    """Postings as two parallel sorted columns (small segments)."""

    terms: U32Array
    docs: U32Array

    @property
    def num_items(self) -> int:
        return int(self.docs.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.terms.nbytes + self.docs.nbytes)

    def ranges(self, query: U32Array) -> tuple[I64Array, I64Array]:
        lo = np.searchsorted(self.terms, query, "left").astype(np.int64)
        hi = np.searchsorted(self.terms, query, "right").astype(np.int64)
        return lo, hi

    def docs_at(self, idx: I64Array | slice) -> U32Array:
        out: U32Array = self.docs[idx]
        return out

    def all_terms(self) -> U32Array:
        return self.terms

    def all_docs(self) -> U32Array:
        return self.docs


@dataclass(frozen=True, eq=False)
class PackedPostings:
    """Postings packed as `term low bits << doc_bits | doc - doc_base` under a bucket table."""

    shift: int  # bucket of a term: term >> shift; the low `shift` bits are in the entry
    starts: U32Array  # (1 << (32 - shift)) + 1 values: first entry of each bucket, then n
    entries: npt.NDArray[Any]  # uint32 or uint64, sorted within each bucket
    doc_bits: int
    doc_base: int

    @property
    def num_items(self) -> int:
        return int(self.entries.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.entries.nbytes + self.starts.nbytes)

    def ranges(self, query: U32Array) -> tuple[I64Array, I64Array]:
        """For each query term, the [lo, hi) range of its postings."""
        dtype = self.entries.dtype.type
        b = (query >> np.uint32(self.shift)).astype(np.int64)
        bs = self.starts[b].astype(np.int64)
        size = self.starts[b + 1].astype(np.int64) - bs
        low = (query & np.uint32((1 << self.shift) - 1)).astype(self.entries.dtype)
        first = low << dtype(self.doc_bits)  # smallest entry of the term
        last = first | dtype((1 << self.doc_bits) - 1)  # largest entry of the term
        lo, hi = self._window(bs, size, first, last, _LANES)
        over = np.flatnonzero(size > WINDOW)
        if over.shape[0]:  # a wider window, then bisection for the few still larger
            lo_o, hi_o = self._window(bs[over], size[over], first[over], last[over], _WIDE)
            lo[over], hi[over] = lo_o, hi_o
            huge = over[size[over] > WIDE]
            if huge.shape[0]:
                lo_h, hi_h = self._bisect(bs[huge], bs[huge] + size[huge], first[huge], last[huge])
                lo[huge], hi[huge] = lo_h, hi_h
        return lo, hi

    def _window(
        self,
        bs: I64Array,
        size: I64Array,
        first: npt.NDArray[Any],
        last: npt.NDArray[Any],
        lanes: I64Array,
    ) -> tuple[I64Array, I64Array]:
        """Lower and upper bounds by comparing the first `len(lanes)` entries of each bucket
        (exact for buckets no larger than that)."""
        idx = bs[:, None] + lanes
        np.minimum(idx, self.entries.shape[0] - 1, out=idx)
        vals = self.entries[idx]
        valid = size[:, None] > lanes
        lo = bs + ((vals < first[:, None]) & valid).sum(axis=1)
        hi = bs + ((vals <= last[:, None]) & valid).sum(axis=1)
        return lo, hi

    def _bisect(
        self, start: I64Array, end: I64Array, first: npt.NDArray[Any], last: npt.NDArray[Any]
    ) -> tuple[I64Array, I64Array]:
        """Lower bound of `first` and upper bound of `last` in each sorted [start, end) run."""
        k = first.shape[0]
        lo = np.concatenate((start, start))
        hi = np.concatenate((end, end))
        keys = np.concatenate((first, last))
        right = np.zeros(2 * k, dtype=np.bool_)
        right[k:] = True  # upper bound: step past equal entries too
        entries = self.entries
        n = entries.shape[0]
        while True:
            open_ = lo < hi
            if not open_.any():
                break
            mid = (lo + hi) >> 1
            vals = entries[np.minimum(mid, n - 1)]
            go = np.where(right, vals <= keys, vals < keys) & open_
            lo = np.where(go, mid + 1, lo)
            hi = np.where(go | ~open_, hi, mid)
        return lo[:k], lo[k:]

    def docs_at(self, idx: I64Array | slice) -> U32Array:
        mask = self.entries.dtype.type((1 << self.doc_bits) - 1)
        docs: U32Array = (self.entries[idx] & mask).astype(np.uint32)
        if self.doc_base:
            docs += np.uint32(self.doc_base)
        return docs

    def all_terms(self) -> U32Array:
        """The full term column (for merges and segment files; a transient copy)."""
        buckets = np.repeat(
            np.arange(self.starts.shape[0] - 1, dtype=np.uint32), np.diff(self.starts)
        )
        buckets <<= np.uint32(self.shift)
        if self.shift:
            low = (self.entries >> self.entries.dtype.type(self.doc_bits)).astype(np.uint32)
            buckets |= low
        return buckets

    def all_docs(self) -> U32Array:
        return self.docs_at(slice(None))


PostingTable = SortedColumns | PackedPostings


def bucket_shift(n: int, doc_bits: int) -> tuple[int, bool]:
    """The bucket shift for `n` postings whose doc ids span `doc_bits` bits, and whether the
    entries fit a u32: they do when the bucket bits cover the doc bits; the bucket table is
    then allowed to grow up to twice its ideal size, beyond that entries are u64."""
    fill_bits = min(31, max(1, int(np.ceil(np.log2(max(n, 2) / BUCKET_FILL)))))
    if doc_bits <= fill_bits + 1:
        return 32 - max(fill_bits, doc_bits), True
    return 32 - fill_bits, False


def bucket_starts(terms: U32Array, shift: int) -> U32Array:
    """First posting of each bucket of sorted `terms` (empty buckets: the next one's start)."""
    n = terms.shape[0]
    bits = 32 - shift
    starts = np.full((1 << bits) + 1, n, dtype=np.uint32)
    if n:
        bucket = terms >> np.uint32(shift)
        change = np.flatnonzero(bucket[1:] != bucket[:-1]) + 1
        starts[bucket[0]] = 0
        starts[bucket[change]] = change
        del bucket
        starts = np.minimum.accumulate(starts[::-1])[::-1].copy()
    return starts


def posting_table(
    terms: U32Array, docs: U32Array, stored: tuple[int, U32Array] | None = None
) -> PostingTable:
    """The RAM layout for sorted postings; `stored` is a bucket table read from a segment file
    (used when it has the shift this layout would choose, else rebuilt)."""
    n = int(terms.shape[0])
    if n <= SMALL_SEGMENT:
        return SortedColumns(terms, docs)
    base = int(docs.min())
    doc_bits = int(docs.max()) - base
    doc_bits = doc_bits.bit_length()
    shift, fits32 = bucket_shift(n, doc_bits)
    starts = stored[1] if stored is not None and stored[0] == shift else None
    if starts is None:
        starts = bucket_starts(terms, shift)
    entries: npt.NDArray[Any] = terms & np.uint32((1 << shift) - 1)
    if not fits32:
        entries = entries.astype(np.uint64)
    np.left_shift(entries, entries.dtype.type(doc_bits), out=entries)
    offsets = docs - np.uint32(base) if base else docs
    np.bitwise_or(entries, offsets.astype(entries.dtype, copy=False), out=entries)
    return PackedPostings(shift, starts, entries, doc_bits, base)


def gather(table: PostingTable, query: U32Array) -> U32Array:
    """Doc ids of every posting whose term is in `query` (sorted, unique).

    All query terms are located at once, then the runs are gathered with one fancy-index.
    """
    if table.num_items == 0 or query.shape[0] == 0:
        return _EMPTY_U32
    lo, hi = table.ranges(query)
    lens = hi - lo
    found = lens > 0
    starts = lo[found]
    if starts.shape[0] == 0:
        return _EMPTY_U32
    lens = lens[found]
    if starts.shape[0] == 1:
        return table.docs_at(slice(int(starts[0]), int(starts[0] + lens[0])))
    total = int(lens.sum())
    # Ranges trick: index = arange(total) + (start of the slice - where it lands).
    shift = starts - (np.cumsum(lens) - lens)
    idx = np.arange(total, dtype=np.int64) + np.repeat(shift, lens)
    return table.docs_at(idx)


def table_keys(table: PostingTable) -> U64Array:
    """`term << 32 | doc` of every posting, sorted (for merges)."""
    keys = table.all_terms().astype(np.uint64)
    keys <<= _SHIFT32
    keys |= table.all_docs()
    return keys


def split_keys(keys: U64Array) -> tuple[U32Array, U32Array]:
    """Terms and docs of sorted `term << 32 | doc` keys."""
    return (keys >> _SHIFT32).astype(np.uint32), (keys & _LOW32).astype(np.uint32)
