"""AcoustID's fingerprint comparison functions, reproduced score for score.

The reference is pg_acoustid's ``acoustid_compare.c`` (the PostgreSQL extension the AcoustID
server scores candidates with) and Chromaprint's ``chromaprint_hash_fingerprint``. The server only
ever compares item arrays, so matching its decisions means reproducing the C code's quirks, not
improving on them; every quirk kept on purpose is marked "C quirk" below.

Items may be given signed (int32, as pg_acoustid stores them) or unsigned (uint32); only the
32-bit pattern matters. Everything is vectorised with numpy: comparing two 120 s fingerprints
(about 950 items each) takes a fraction of a millisecond. :func:`compare2`, which scores every
lookup candidate, runs in C (``earmark.chromaprint._native``, about three times faster) when the
extension was built (:data:`earmark.chromaprint.codec.NATIVE`); its numpy version here is the
specification, and the two give the same scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.codec import NATIVE, as_items

if NATIVE:
    from earmark.chromaprint import _native

__all__ = [
    "MATCH_BITS",
    "QUERY_LENGTH",
    "QUERY_MASK",
    "QUERY_START",
    "SILENCE_ITEM",
    "compare",
    "compare2",
    "extract_query",
    "popcount",
    "simhash",
]

#: The item an all-zero (silent) chroma image produces; AcoustID ignores it when indexing.
SILENCE_ITEM: Final = 627964279
#: compare2 aligns fingerprints on the top 14 bits of each item (classifiers 0-6).
MATCH_BITS: Final = 14
#: extract_query starts about 9.9 s in (item 80) and takes up to 120 distinct terms.
QUERY_START: Final = 80
QUERY_LENGTH: Final = 120
#: extract_query keeps the top 28 bits (drops classifiers 14 and 15).
QUERY_MASK: Final = 0xFFFFFFF0

# compare (v1): offsets i - j with i - 120 <= j < i + 120, items within 2 bits count as a match.
_V1_MAX_OFFSET: Final = 120
_V1_MAX_BIT_ERROR: Final = 2
_V1_BLOCK: Final = 4096

_KEY_SHIFT: Final = 32 - MATCH_BITS
_KEY_COUNT: Final = 1 << MATCH_BITS
_LAST_KEY: Final = _KEY_COUNT - 1  # 16383
_MIDDLE_KEY: Final = _LAST_KEY // 2  # 8191: its table entry overlaps byte 16383 of "seen"

_Items = Sequence[int] | npt.NDArray[np.integer]
_UintArray = npt.NDArray[np.unsignedinteger]

_HAS_BITWISE_COUNT: Final = hasattr(np, "bitwise_count")  # numpy >= 2.0


def popcount(values: _UintArray) -> npt.NDArray[np.uint8]:
    """Return the number of set bits of every element of an unsigned (up to 64-bit) array."""
    if _HAS_BITWISE_COUNT:
        counted: npt.NDArray[np.uint8] = np.bitwise_count(values)
        return counted
    return _popcount_swar(values)


def _popcount_swar(values: _UintArray) -> npt.NDArray[np.uint8]:
    """Portable popcount for numpy < 2.0 (no np.bitwise_count): SWAR on 64-bit lanes."""
    x = values.astype(np.uint64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.uint8)


def _offset_table(keys: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The C code's uint16 key -> position table: last occurrence, wrapped, 0 when absent."""
    table = np.zeros(_KEY_COUNT, dtype=np.intp)
    # C quirk reproduced: the C loop overwrites, so the LAST occurrence wins; that is the
    # maximum index. ufunc.at is well defined for repeated indices (plain fancy assignment
    # with repeated indices has no documented order). Position 0 and "absent" are both 0.
    np.maximum.at(table, keys, np.arange(keys.size, dtype=np.intp))
    # C quirk: positions are stored as uint16, wrapping past 65 535 (and 65 536 becomes "absent").
    table &= 0xFFFF
    return table


def _first_to_reach_top(offsets: npt.NDArray[np.intp]) -> tuple[int, int]:
    """Return (top vote count, offset whose count reached it first) for votes cast in order.

    The C loop replaces topoffset only on a strictly greater count, so among offsets tied at the
    top count the winner is the one whose last (topcount-th) vote was cast earliest.
    """
    lowest = int(offsets.min())
    counts = np.bincount(offsets - lowest)
    topcount = int(counts.max())
    if topcount == 1:
        return 1, int(offsets[0])
    is_top = counts == topcount
    if np.count_nonzero(is_top) == 1:
        return topcount, int(np.argmax(is_top)) + lowest
    votes = np.flatnonzero(is_top[offsets - lowest])  # every vote for a tied offset, in order
    # A stable sort by offset groups each tied offset's votes, exactly topcount of them, in
    # casting order; the last of each group is where that offset reached the top.
    order = np.argsort(offsets[votes], kind="stable")
    reached = votes[order[topcount - 1 :: topcount]]
    return topcount, int(offsets[reached.min()])


#: Offsets never exceed 65 535 either way (uint16 positions): any larger limit means the same.
_MAXOFFSET_BOUND: Final = 1 << 20


def compare2(a: _Items, b: _Items, maxoffset: int = 0) -> float:
    """Similarity in [0, 1] of two fingerprints, as pg_acoustid's ``acoustid_compare2``.

    The AcoustID server scores lookup candidates with ``compare2(stored, query, 80)``.
    ``maxoffset == 0`` means no limit on the alignment offset.
    """
    fa = as_items(a)
    fb = as_items(b)
    if NATIVE:
        bounded = max(-_MAXOFFSET_BOUND, min(_MAXOFFSET_BOUND, maxoffset))
        return _native.compare2(np.ascontiguousarray(fa), np.ascontiguousarray(fb), bounded)
    return compare2_numpy(fa, fb, maxoffset)


def compare2_numpy(fa: npt.NDArray[np.uint32], fb: npt.NDArray[np.uint32], maxoffset: int) -> float:
    """:func:`compare2` with numpy, on uint32 items (what the C version is checked against)."""
    asize, bsize = fa.size, fb.size
    if asize == 0 or bsize == 0:  # the SQL wrapper returns 0 for empty arrays
        return 0.0

    keys_a = (fa >> _KEY_SHIFT).astype(np.intp)
    keys_b = (fb >> _KEY_SHIFT).astype(np.intp)
    table_a = _offset_table(keys_a)
    table_b = _offset_table(keys_b)

    # C quirks: a zero entry means "absent", so a key whose last occurrence is at position 0
    # never votes; and the loop runs over keys 0 .. 16382, never examining key 16383.
    voting = np.flatnonzero((table_a[:_LAST_KEY] != 0) & (table_b[:_LAST_KEY] != 0))
    offsets = table_a[voting] - table_b[voting]  # in key order, as the C loop votes
    if maxoffset != 0:
        # A negative maxoffset admits no offset at all, exactly like the C condition.
        offsets = offsets[(-maxoffset <= offsets) & (offsets <= maxoffset)]
    if offsets.size == 0:
        # No votes: the C code aligns by -bsize, leaving nothing to compare.
        return 0.0
    topcount, topoffset = _first_to_reach_top(offsets)

    minsize = min(asize, bsize) & ~1  # C quirk: rounded down to even before shifting
    if topoffset < 0:
        fb = fb[-topoffset:]
    else:
        fa = fa[topoffset:]
    size = min(fa.size, fb.size) // 2
    if size == 0 or minsize == 0:
        return 0.0

    # Distinct keys of the aligned parts. C quirk: they are counted on 14-bit keys (UNIQ_STRIP
    # uses MATCH_BITS), in a byte buffer laid over the offset table whose memset clears only
    # bytes 0 .. 16382: byte 16383 keeps the high byte of a's uint16 table entry for key 8191
    # (little-endian), and a's key 16383 marks it seen for b too.
    seen_a = np.zeros(_KEY_COUNT, dtype=bool)
    seen_a[keys_a[asize - fa.size :]] = True
    seen_b = np.zeros(_KEY_COUNT, dtype=bool)
    seen_b[keys_b[bsize - fb.size :]] = True
    stale_byte = int(table_a[_MIDDLE_KEY]) >> 8
    auniq = int(np.count_nonzero(seen_a[:_LAST_KEY]))
    buniq = int(np.count_nonzero(seen_b[:_LAST_KEY]))
    if seen_a[_LAST_KEY] and stale_byte == 0:
        auniq += 1
    if seen_b[_LAST_KEY] and stale_byte == 0 and not seen_a[_LAST_KEY]:
        buniq += 1

    # float4 arithmetic as in C: (float)(uniq + 10) / size, then + 0.5 and min() in double
    # (exact for a float operand), stored back to float.
    f32 = np.float32
    diversity = f32(
        min(
            1.0,
            float(f32(auniq + 10) / f32(fa.size)) + 0.5,
            float(f32(buniq + 10) / f32(fb.size)) + 0.5,
        )
    )
    if topcount < max(auniq, buniq) * 0.02:  # no credible alignment
        return 0.0

    # The C code XORs the first 2*size items as 64-bit words; the popcount total is the same.
    span = 2 * size
    biterror = int(popcount(fa[:span] ^ fb[:span]).sum(dtype=np.int64))
    # C: (size * 2.0 / minsize) * (1.0 - 2.0 * (float4)biterror / (64 * size)) evaluates in
    # double (2.0 * ... comes first), and the result is stored in a float.
    score = f32((size * 2.0 / minsize) * (1.0 - 2.0 * biterror / (64 * size)))
    score = max(score, f32(0.0))
    if diversity < 1.0:
        # Repetitive fingerprints are punished: pow() in double, stored as float.
        score = f32(float(score) ** (8.0 - 7.0 * float(diversity)))
    return float(score)


def compare(a: _Items, b: _Items) -> float:
    """Similarity in [0, 1] of two fingerprints, as pg_acoustid's older ``acoustid_compare`` (v1).

    For offsets i - j within (-120, 120], count item pairs a[i], b[j] that differ in at most
    2 bits; the score is the best offset's count divided by the shorter length.
    """
    fa = as_items(a)
    fb = as_items(b)
    asize, bsize = fa.size, fb.size
    if asize == 0 or bsize == 0:
        return 0.0
    # Row s of the window view holds b[i - d] for d = 120 - s, i.e. d from 120 down to -119
    # (j ranges over [i - 120, i + 120), so d = i - j lies in (-120, 120]). Positions outside b
    # hold a pad with the high 32 bits set: XOR with any item then has >= 32 bits, never a match.
    pad = np.uint64(0xFFFFFFFF00000000)
    used = min(bsize, asize + _V1_MAX_OFFSET)  # b[j] for j >= asize + 120 is never reached
    padded = np.full(asize + 2 * _V1_MAX_OFFSET, pad, dtype=np.uint64)
    padded[_V1_MAX_OFFSET : _V1_MAX_OFFSET + used] = fb[:used]
    windows = np.lib.stride_tricks.sliding_window_view(padded, asize)[: 2 * _V1_MAX_OFFSET]
    wide = fa.astype(np.uint64)
    votes = np.zeros(2 * _V1_MAX_OFFSET, dtype=np.int64)
    # Blocks of items bound the temporaries (240 x block) for very long fingerprints.
    for start in range(0, asize, _V1_BLOCK):
        stop = start + _V1_BLOCK
        errors = popcount(windows[:, start:stop] ^ wide[start:stop])
        votes += np.count_nonzero(errors <= _V1_MAX_BIT_ERROR, axis=1)
    # (float4)topcount / Min(asize, bsize): a float by int division in single precision.
    return float(np.float32(votes.max()) / np.float32(min(asize, bsize)))


def extract_query(items: _Items) -> npt.NDArray[np.uint32]:
    """The index terms of a fingerprint, as pg_acoustid ``acoustid_extract_query`` (uint32 values).

    Up to 120 distinct items masked to their top 28 bits, silence skipped, taken in order from
    index min(80, non-silent count - 120) (at least 0).
    """
    fp = as_items(items)
    not_silence = fp != SILENCE_ITEM
    cleansize = int(np.count_nonzero(not_silence))
    if cleansize == 0:
        return np.zeros(0, dtype=np.uint32)
    # C quirk: the start is computed from the non-silent count but indexes the original array.
    start = max(0, min(cleansize - QUERY_LENGTH, QUERY_START))
    terms = fp[start:][not_silence[start:]] & np.uint32(QUERY_MASK)
    _, first = np.unique(terms, return_index=True)  # drop repeats, keep first occurrences
    first.sort()
    query: npt.NDArray[np.uint32] = terms[first[:QUERY_LENGTH]]
    return query


def simhash(items: _Items) -> int:
    """Chromaprint's ``chromaprint_hash_fingerprint``: bit k set iff over half the items set it."""
    fp = as_items(items)
    if fp.size == 0:
        return 0
    bits = np.unpackbits(fp.astype("<u4").view(np.uint8), bitorder="little").reshape(fp.size, 32)
    counts = bits.sum(axis=0, dtype=np.int64)
    majority = counts > fp.size // 2
    return int((majority.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum())
