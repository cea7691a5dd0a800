"""Immutable segments: sorted (term, doc) postings with a term directory and a doc table.

A segment covers a contiguous range of commit ids `[first_commit, last_commit]`. Segments
of one index tile the commit sequence, oldest first. A document's current state lives in the
newest segment whose doc table lists it; a dead entry in the doc table is a tombstone
(a delete), which hides every older version of the document.

Memory segments (one per commit, then merged) and file segments (decoded from their file on
open) share this one class.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from earmark.index.engine.postings import (
    PackedPostings,
    PostingTable,
    gather,
    posting_table,
    split_keys,
    table_keys,
)
from earmark.index.engine.types import (
    BoolArray,
    Change,
    Delete,
    Insert,
    SetMetadata,
    U32Array,
    U64Array,
)

_EMPTY_U32: U32Array = np.zeros(0, dtype=np.uint32)
_SHIFT32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)

IntT = TypeVar("IntT", np.uint32, np.uint64)


@dataclass(frozen=True, eq=False)
class Segment:
    first_commit: int
    last_commit: int
    # Stored (term, doc) pairs sorted by term then doc (`postings.py`: plain columns for
    # small segments, packed under a bucket table for large ones).
    table: PostingTable
    # Doc table, sorted by id: alive=False is a tombstone.
    doc_ids: U32Array
    doc_alive: BoolArray
    doc_versions: U64Array
    metadata: Mapping[str, str]
    path: Path | None = None
    # Set when a merge replaced this file segment: the file is removed once the last
    # snapshot (and so the last reader) holding this object lets go of it.
    _finalizer: list[weakref.finalize[..., object]] = field(
        default_factory=list, repr=False, compare=False
    )

    @property
    def num_items(self) -> int:
        return self.table.num_items

    @property
    def num_docs(self) -> int:
        return int(self.doc_ids.shape[0])

    @property
    def terms(self) -> U32Array:
        """The term of every posting (decoded: a transient copy for large segments)."""
        return self.table.all_terms()

    @property
    def postings(self) -> U32Array:
        """The doc id of every posting (decoded: a transient copy for large segments)."""
        return self.table.all_docs()

    def contains(self, doc_id: int) -> int:
        """Index of `doc_id` in the doc table, or -1."""
        ids = self.doc_ids
        pos = int(np.searchsorted(ids, doc_id))
        if pos < ids.shape[0] and int(ids[pos]) == doc_id:
            return pos
        return -1

    def remove_file_when_unused(self, unlink: Callable[[Path], None]) -> None:
        """Arrange for the backing file to be unlinked when this object is collected.

        Readers hold segments through the snapshot they searched, so the file outlives
        every search that might still read it.
        """
        if self.path is not None and not self._finalizer:
            self._finalizer.append(weakref.finalize(self, unlink, self.path))

    def bucket_table(self) -> tuple[int, U32Array] | None:
        """The bucket table if this segment uses one (large segments), for segment files."""
        t = self.table
        return (t.shift, t.starts) if isinstance(t, PackedPostings) else None

    def postings_for(self, query: U32Array) -> U32Array:
        """Doc ids of every stored (term, doc) pair whose term is in `query` (sorted, unique)."""
        return gather(self.table, query)


def count_hits(docs: npt.NDArray[IntT]) -> tuple[npt.NDArray[IntT], U32Array]:
    """Unique values and how many times each occurs, by sorting (exact, no cap)."""
    if docs.shape[0] <= 1:
        return docs, np.ones(docs.shape[0], dtype=np.uint32)
    s = np.sort(docs)
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate(([0], change))
    counts = np.diff(np.concatenate((starts, [s.shape[0]])))
    return s[starts], counts.astype(np.uint32)


def _from_pairs(
    first_commit: int,
    last_commit: int,
    keys: U64Array,
    doc_ids: U32Array,
    doc_alive: BoolArray,
    doc_versions: U64Array,
    metadata: Mapping[str, str],
) -> Segment:
    """Build a segment from sorted keys `term << 32 | doc`."""
    terms, docs = split_keys(keys)
    del keys
    return Segment(
        first_commit=first_commit,
        last_commit=last_commit,
        table=posting_table(terms, docs),
        doc_ids=doc_ids,
        doc_alive=doc_alive,
        doc_versions=doc_versions,
        metadata=dict(metadata),
    )


def build_segment(commit_id: int, changes: Iterable[Change]) -> Segment:
    """One memory segment for one commit. Several ops on one id: the last one wins."""
    last: dict[int, Insert | Delete] = {}
    metadata: dict[str, str] = {}
    for change in changes:
        if isinstance(change, SetMetadata):
            metadata.update(change.entries)
        else:
            last[change.id] = change
    ids = sorted(last)
    doc_ids = np.array(ids, dtype=np.uint32)
    doc_alive = np.array([isinstance(last[i], Insert) for i in ids], dtype=np.bool_)
    doc_versions = np.full(len(ids), commit_id, dtype=np.uint64)
    inserts = [c for c in (last[i] for i in ids) if isinstance(c, Insert)]
    if inserts:
        lengths = np.array([c.hashes.shape[0] for c in inserts], dtype=np.int64)
        terms = np.concatenate([c.hashes for c in inserts]).astype(np.uint64)
        docs = np.repeat(np.array([c.id for c in inserts], dtype=np.uint64), lengths)
        keys = (terms << _SHIFT32) | docs
        keys.sort()
    else:
        keys = np.zeros(0, dtype=np.uint64)
    return _from_pairs(commit_id, commit_id, keys, doc_ids, doc_alive, doc_versions, metadata)


def _keys_of(segment: Segment) -> U64Array:
    return table_keys(segment.table)


def merge_segments(segments: Sequence[Segment], *, drop_tombstones: bool) -> Segment:
    """Merge adjacent segments (oldest first) into one covering their commit range.

    Adjacent means no commit lies between them: commit ids are dense on a standalone index
    and jump on a replica, whose commit ids are the stream sequences it applied (the gaps
    belong to other indexes of the stream), so only the order is checked.

    Every document keeps only its newest version. Tombstones are kept so they go on hiding
    older segments outside the merge, unless `drop_tombstones` (the merge includes the
    oldest segment of the index, so there is nothing older left to hide).
    """
    if not segments:
        raise ValueError("nothing to merge")
    for older, newer in itertools.pairwise(segments):
        if older.last_commit >= newer.first_commit:
            raise ValueError("only adjacent segments, oldest first, can be merged")
    metadata: dict[str, str] = {}
    for seg in segments:
        metadata.update(seg.metadata)
    newer_docs: U32Array = _EMPTY_U32  # sorted union of the doc tables seen so far
    parts_keys: list[U64Array] = []
    parts_ids: list[U32Array] = []
    parts_alive: list[BoolArray] = []
    parts_versions: list[U64Array] = []
    for seg in reversed(segments):
        superseded = np.isin(seg.doc_ids, newer_docs, assume_unique=True)
        keys = _keys_of(seg)
        if superseded.any():
            dropped = seg.doc_ids[superseded]
            keep = ~np.isin((keys & _LOW32).astype(np.uint32), dropped)
            keys = keys[keep]
            fresh = ~superseded
            parts_ids.append(seg.doc_ids[fresh])
            parts_alive.append(seg.doc_alive[fresh])
            parts_versions.append(seg.doc_versions[fresh])
        else:
            parts_ids.append(seg.doc_ids)
            parts_alive.append(seg.doc_alive)
            parts_versions.append(seg.doc_versions)
        parts_keys.append(keys)
        newer_docs = np.union1d(newer_docs, seg.doc_ids).astype(np.uint32)
    doc_ids = np.concatenate(parts_ids).astype(np.uint32)
    doc_alive = np.concatenate(parts_alive).astype(np.bool_)
    doc_versions = np.concatenate(parts_versions).astype(np.uint64)
    order = np.argsort(doc_ids, kind="stable")
    doc_ids, doc_alive, doc_versions = doc_ids[order], doc_alive[order], doc_versions[order]
    if drop_tombstones:
        doc_ids, doc_versions = doc_ids[doc_alive], doc_versions[doc_alive]
        doc_alive = doc_alive[doc_alive]
    keys_all = np.concatenate(parts_keys) if parts_keys else np.zeros(0, dtype=np.uint64)
    # Each part is already sorted; a stable sort (timsort for 64-bit keys) merges the runs.
    keys_all.sort(kind="stable")
    return _from_pairs(
        segments[0].first_commit,
        segments[-1].last_commit,
        keys_all,
        doc_ids,
        doc_alive,
        doc_versions,
        metadata,
    )
