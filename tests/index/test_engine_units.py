"""Small units of the engine: column encoding, merge policy, bucketed term lookup."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from earmark.index.engine import columns
from earmark.index.engine.policy import pick_idle_merge, pick_merge
from earmark.index.engine.postings import SMALL_SEGMENT, PackedPostings
from earmark.index.engine.segment import _from_pairs

U32 = st.integers(0, 2**32 - 1)


@given(st.lists(U32, max_size=300), st.booleans(), st.booleans())
def test_column_roundtrip_u32(values: list[int], delta: bool, compress: bool) -> None:
    arr = np.array(sorted(values) if delta else values, dtype=np.uint32)
    data, meta = columns.encode(arr, delta=delta, compress=compress)
    out = columns.decode(data, meta)
    assert out.dtype == np.uint32
    assert out.tolist() == arr.tolist()


@given(st.lists(st.integers(0, 2**64 - 1), max_size=100))
def test_column_roundtrip_u64(values: list[int]) -> None:
    arr = np.array(values, dtype=np.uint64)
    data, meta = columns.encode(arr, compress=True)
    assert columns.decode(data, meta).tolist() == values


def test_column_width_is_what_the_range_needs() -> None:
    arr = np.arange(1_000_000, 1_000_000 + 70_000, dtype=np.uint32)
    data, meta = columns.encode(arr)
    assert meta["width"] == 3  # range 70,000 needs 17 bits
    assert len(data) == 3 * arr.shape[0]


def test_pick_merge_tiers() -> None:
    assert pick_merge([100] * 3, factor=4, base=100) is None
    assert pick_merge([100] * 4, factor=4, base=100) == (0, 4)
    assert pick_merge([1600, 400, 100, 100, 100, 100], factor=4, base=100) == (2, 6)
    # above the cap the cheapest adjacent window merges
    sizes = [10**6, 10**5, 10**6, 10**5, 10**6, 10]
    assert pick_merge(sizes, factor=4, base=100, max_segments=4) is not None
    assert pick_merge(sizes, factor=4, base=100, max_segments=10) is None


def test_pick_idle_merge() -> None:
    assert pick_idle_merge([5, 5, 5], max_merge_items=100) == (0, 3)
    assert pick_idle_merge([100, 5, 5], max_merge_items=50) == (1, 3)
    assert pick_idle_merge([100, 5], max_merge_items=50) is None


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_bucketed_lookup_matches_searchsorted(seed: int, repeat: int) -> None:
    rng = np.random.default_rng(seed)
    n = SMALL_SEGMENT * 2
    terms = rng.integers(0, 2**32, n // repeat + 1, dtype=np.uint64).repeat(repeat)[:n]
    terms[: n // 10] = 7  # one very common term: its bucket overflows the window
    terms[-5:] = 2**32 - 1
    keys = np.sort((terms << np.uint64(32)) | rng.integers(1, 1000, n, dtype=np.uint64))
    seg = _from_pairs(
        1, 1, keys, np.zeros(0, np.uint32), np.zeros(0, bool), np.zeros(0, np.uint64), {}
    )
    query = np.unique(
        np.concatenate(
            [
                seg.terms[rng.integers(0, n, 50)],
                rng.integers(0, 2**32, 50, dtype=np.uint32),
                np.array([0, 7, 2**32 - 1], dtype=np.uint32),
            ]
        )
    ).astype(np.uint32)
    assert isinstance(seg.table, PackedPostings)
    lo, hi = seg.table.ranges(query)
    assert lo.tolist() == np.searchsorted(seg.terms, query, "left").tolist()
    assert hi.tolist() == np.searchsorted(seg.terms, query, "right").tolist()


def test_large_segment_file_keeps_its_bucket_table(tmp_path) -> None:
    from earmark.index.engine.segfile import read_segment, write_segment

    rng = np.random.default_rng(3)
    n = SMALL_SEGMENT * 3
    keys = np.sort(
        (rng.integers(0, 2**32, n, dtype=np.uint64) << np.uint64(32))
        | rng.integers(1, 5000, n, dtype=np.uint64)
    )
    ids = np.arange(1, 5000, dtype=np.uint32)
    seg = _from_pairs(
        1, 9, keys, ids, np.ones(ids.shape[0], bool), np.full(ids.shape[0], 9, np.uint64), {}
    )
    loaded = read_segment(write_segment(tmp_path, seg))
    stored = loaded.bucket_table()
    assert stored is not None
    shift, starts = seg.bucket_table() or (0, None)
    assert stored[0] == shift
    assert stored[1].tolist() == starts.tolist()
    query = np.unique(seg.terms[rng.integers(0, n, 200)])
    assert loaded.postings_for(query).tolist() == seg.postings_for(query).tolist()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1000, 2**20, 2**31]))
def test_packed_postings_give_every_posting_of_the_query_terms(seed: int, doc_span: int) -> None:
    """Both packings (u32 entries when the doc ids fit below the bucket bits, u64 when they
    span more) and the bisection of buckets larger than the window return the plain answer."""
    from earmark.index.engine.postings import gather

    rng = np.random.default_rng(seed)
    n = SMALL_SEGMENT * 2
    terms = rng.integers(0, 2**32, n, dtype=np.uint64)
    terms[: n // 20] = 12345  # a very common term
    terms[n // 20 : n // 10] = rng.integers(0, 2**16, n // 10 - n // 20)  # dense: big buckets
    docs = rng.integers(7, 7 + doc_span, n, dtype=np.uint64)
    keys = np.sort((terms << np.uint64(32)) | docs)
    seg = _from_pairs(
        1, 1, keys, np.zeros(0, np.uint32), np.zeros(0, bool), np.zeros(0, np.uint64), {}
    )
    assert isinstance(seg.table, PackedPostings)
    assert seg.table.entries.dtype == (np.uint32 if doc_span == 1000 else np.uint64)
    plain_terms = (keys >> np.uint64(32)).astype(np.uint32)
    plain_docs = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    assert seg.terms.tolist() == plain_terms.tolist()
    assert seg.postings.tolist() == plain_docs.tolist()
    query = np.unique(
        np.concatenate(
            [
                plain_terms[rng.integers(0, n, 60)],
                rng.integers(0, 2**32, 60, dtype=np.uint32),
                np.array([0, 12345, 2**32 - 1], dtype=np.uint32),
            ]
        )
    ).astype(np.uint32)
    expected = plain_docs[np.isin(plain_terms, query)]
    assert sorted(gather(seg.table, query).tolist()) == sorted(expected.tolist())
